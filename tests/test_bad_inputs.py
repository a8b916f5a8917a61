"""The bad-input matrix: every public entry point and every CLI flag, fed something wrong.

Each library case is ``(callable, expected exception type, regex on the one-line message)``; each CLI case is
``(argv, regex)`` run through ``jaxmlp.cli.main`` and must exit 2 with exactly one line on stderr (two for a
missing data source: what was tried, then what to do). The case ids are listed by ``pytest -v``.
"""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
import re
import types
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmlp
from jaxmlp import checkpoint, resume, validate
from jaxmlp.cli import main
from jaxmlp.config import TrainConfig
from jaxmlp.data import MNISTUnavailableError
from jaxmlp.epoch import init_state
from jaxmlp.train import History

SMALL = TrainConfig(batch_size=50, epochs=2)


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[Any], Any]  # called with the ``ctx`` namespace of fixtures below
    error: type[BaseException]
    match: str


@dataclasses.dataclass(frozen=True)
class CliCase:
    id: str
    argv: Callable[[Any], list[str]]
    match: str


def _set(params: list[dict[str, Any]], layer: int, name: str, value: Any) -> list[dict[str, Any]]:
    copy = [dict(p) for p in params]
    copy[layer][name] = value
    return copy


def _zeros(sizes: tuple[int, ...], dtype: Any = np.float32) -> list[dict[str, np.ndarray]]:
    return [{"w": np.zeros((m, n), dtype), "b": np.zeros(n, dtype)} for m, n in itertools.pairwise(sizes)]


def _dataset(**changes: Any) -> jaxmlp.Dataset:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (100, 784), dtype=np.uint8),
        "y_train": np.arange(100) % 10,
        "x_test": rng.integers(0, 256, (20, 784), dtype=np.uint8),
        "y_test": np.arange(20) % 10,
    }
    return jaxmlp.Dataset(**{**arrays, **changes})


KEY = jax.random.key(0)
X = np.full((4, 784), 0.5, np.float32)
Y = np.array([0, 1, 2, 3])

LIBRARY_CASES = [
    # init_params
    Case("init-key-int", lambda c: jaxmlp.init_params(0), TypeError, r"key must be one jax\.random key"),
    Case("init-key-floats", lambda c: jaxmlp.init_params(jnp.ones(2)), TypeError, r"key must be .*float32"),
    Case("init-sizes-one", lambda c: jaxmlp.init_params(KEY, (784,)), ValueError, r"at least two positive"),
    Case("init-sizes-zero", lambda c: jaxmlp.init_params(KEY, (784, 0, 10)), ValueError, r"positive layer widths"),
    Case("init-sizes-str", lambda c: jaxmlp.init_params(KEY, "784"), TypeError, r"sequence of layer widths"),
    Case("init-sizes-frac", lambda c: jaxmlp.init_params(KEY, (784, 16.5, 10)), TypeError, r"layer widths.*16\.5"),
    Case("init-name", lambda c: jaxmlp.init_params(KEY, init="xavier"), ValueError, r"init must be one of"),
    Case("init-dtype-int", lambda c: jaxmlp.init_params(KEY, dtype=jnp.int32), TypeError, r"floating-point"),
    # forward (static checks: they hold under jax.jit too)
    Case("fwd-width", lambda c: jaxmlp.forward(c.params, X[:, :783]), ValueError, r"x has shape \(4, 783\).*784"),
    Case("fwd-3d", lambda c: jaxmlp.forward(c.params, X[None]), ValueError, r"x has shape \(1, 4, 784\)"),
    Case("fwd-empty", lambda c: jaxmlp.forward(c.params, X[:0]), ValueError, r"x is empty"),
    Case("fwd-uint8", lambda c: jaxmlp.forward(c.params, X.astype(np.uint8)), TypeError, r"uint8.*to_float"),
    Case("fwd-list", lambda c: jaxmlp.forward(c.params, X.tolist()), TypeError, r"x is a list; expected"),
    Case("fwd-int-pixels", lambda c: jaxmlp.forward(c.params, X.astype(np.int32)), TypeError, r"dtype int32"),
    Case("fwd-jit-width", lambda c: jax.jit(jaxmlp.forward)(c.params, X[:, :10]), ValueError, r"expected \(n, 784\)"),
    Case("fwd-params-dict", lambda c: jaxmlp.forward({"w": 1}, X), TypeError, r"params is a dict; expected a list"),
    Case("fwd-params-nob", lambda c: jaxmlp.forward([{"w": c.params[0]["w"]}], X), TypeError, r"keys 'b' and 'w'"),
    Case(
        "fwd-params-chain",
        lambda c: jaxmlp.forward(_set(c.params, 1, "w", jnp.ones((15, 16))), X),
        ValueError,
        r"takes 15 inputs but the layer before gives 16",
    ),
    Case(
        "fwd-params-bias",
        lambda c: jaxmlp.forward(_set(c.params, 0, "b", jnp.ones(3)), X),
        ValueError,
        r"params\[0\] has w \(784, 16\) and b \(3,\)",
    ),
    # the costs
    Case(
        "cost-float-labels",
        lambda c: jaxmlp.quadratic_cost(c.params, X, Y * 1.0),
        TypeError,
        r"labels must be integers",
    ),
    Case("cost-label-count", lambda c: jaxmlp.quadratic_cost(c.params, X, Y[:3]), ValueError, r"\(3,\); expected \(4,"),
    Case(
        "cost-one-hot",
        lambda c: jaxmlp.cross_entropy_cost(c.params, X, np.eye(10, dtype=np.int32)[Y]),
        ValueError,
        r"y has shape \(4, 10\); expected \(4,\)",
    ),
    Case(
        "cost-xent-identity",
        lambda c: jaxmlp.cross_entropy_cost(c.params, X, Y, output="identity"),
        ValueError,
        r"output must be one of softmax, sigmoid; got 'identity'",
    ),
    Case(
        "cost-grad-x-width",
        lambda c: jax.grad(jaxmlp.quadratic_cost)(c.params, X[:, :700], Y),
        ValueError,
        r"x has shape \(4, 700\)",
    ),
    # predict: values are checked, so NaN never becomes a silent digit 0
    Case("predict-nan", lambda c: jaxmlp.predict(c.params, X.copy().clip(np.nan)), ValueError, r"non-finite pixel"),
    Case("predict-255", lambda c: jaxmlp.predict(c.params, X * 255), ValueError, r"pixels in \[127\.5, 127\.5\]"),
    Case(
        "predict-nan-params",
        lambda c: jaxmlp.predict(_set(c.params, 2, "b", jnp.full(10, jnp.nan)), X),
        ValueError,
        r"params\[2\]\['b'\] holds NaN",
    ),
    # evaluate
    Case(
        "eval-float-255", lambda c: jaxmlp.evaluate(c.params, X * 255, Y), ValueError, r"pixels in \[127\.5, 127\.5\]"
    ),
    Case(
        "eval-not-mnist",
        lambda c: jaxmlp.evaluate(_zeros((784, 16, 9)), X, Y),
        ValueError,
        r"layer sizes \(784, 16, 9\); an MNIST network needs 784 inputs and 10 outputs",
    ),
    Case("accuracy-label-10", lambda c: jaxmlp.accuracy(c.params, X, Y + 7), ValueError, r"label 10 at index 3"),
    Case("accuracy-labels-list", lambda c: jaxmlp.accuracy(c.params, X, [0, 1, 2, 3]), TypeError, r"y is a list"),
    Case("cost-label-10", lambda c: jaxmlp.quadratic_cost(c.params, X, Y + 7), ValueError, r"label 10 at index 3"),
    Case(
        "eval-label-range",
        lambda c: jaxmlp.evaluate(c.params, c.data.x_test, c.data.y_test + 5),
        ValueError,
        r"label 10 at index 5; expected integers 0\.\.9",
    ),
    Case(
        "eval-label-count",
        lambda c: jaxmlp.evaluate(c.params, c.data.x_test, c.data.y_test[:5]),
        ValueError,
        r"expected \(20,\)",
    ),
    # fit
    Case("fit-not-dataset", lambda c: jaxmlp.fit((X, Y), SMALL), TypeError, r"expected a jaxmlp\.Dataset"),
    Case("fit-batch-too-big", lambda c: jaxmlp.fit(c.data, SMALL, batch_size=101), ValueError, r"larger than the 100"),
    Case(
        "fit-sizes",
        lambda c: jaxmlp.fit(c.data, SMALL, sizes=(784, 16, 9)),
        ValueError,
        r"an MNIST network needs 784 inputs and 10 outputs",
    ),
    Case("fit-unknown-setting", lambda c: jaxmlp.fit(c.data, SMALL, lrr=1.0), TypeError, r"unknown settings lrr"),
    Case("fit-lr-zero", lambda c: jaxmlp.fit(c.data, SMALL, lr=0), ValueError, r"lr must be a positive number"),
    Case("fit-epochs-zero", lambda c: jaxmlp.fit(c.data, SMALL, epochs=0), ValueError, r"epochs must be a positive"),
    Case("fit-config-dict", lambda c: jaxmlp.fit(c.data, {"lr": 1.0}), TypeError, r"expected a TrainConfig"),
    Case("fit-state-type", lambda c: jaxmlp.fit(c.data, SMALL, state=c.params), TypeError, r"expected a TrainState"),
    Case(
        "fit-state-sizes",
        lambda c: jaxmlp.fit(c.data, SMALL, state=init_state(SMALL)._replace(params=_zeros((784, 32, 10)))),
        ValueError,
        r"state\.params has layer sizes \(784, 32, 10\); expected \(784, 16, 16, 10\)",
    ),
    Case(
        "fit-state-finished",
        lambda c: jaxmlp.fit(c.data, SMALL, state=init_state(SMALL)._replace(epoch=2)),
        ValueError,
        r"state is at epoch 2; expected 0 <= epoch < epochs=2",
    ),
    # TrainConfig
    Case("config-lr-negative", lambda c: TrainConfig(lr=-1.0), ValueError, r"lr must be a positive number; got -1"),
    Case("config-lr-nan", lambda c: TrainConfig(lr=float("nan")), ValueError, r"lr must be a positive number"),
    Case("config-lr-str", lambda c: TrainConfig(lr="3"), ValueError, r"lr must be a positive number; got '3'"),
    Case("config-epochs-float", lambda c: TrainConfig(epochs=2.5), ValueError, r"epochs must be a positive integer"),
    Case("config-batch-zero", lambda c: TrainConfig(batch_size=0), ValueError, r"batch_size must be a positive"),
    Case("config-shift", lambda c: TrainConfig(shift=5), ValueError, r"shift must be .* 0\.\.4"),
    Case("config-smoothing", lambda c: TrainConfig(label_smoothing=1.0), ValueError, r"label_smoothing must be in"),
    Case("config-activation", lambda c: TrainConfig(activation="gelu"), ValueError, r"activation must be one of"),
    Case("config-optimizer", lambda c: TrainConfig(optimizer="lbfgs"), ValueError, r"optimizer must be one of"),
    Case("config-schedule", lambda c: TrainConfig(schedule="step"), ValueError, r"schedule must be one of"),
    Case(
        "config-seed-huge",
        lambda c: TrainConfig(seed=2**70),
        ValueError,
        r"seed must be an integer in -9223372036854775808\.\.",
    ),
    Case("config-seed-str", lambda c: TrainConfig(seed="a"), TypeError, r"seed must be an integer in .*; got 'a'"),
    Case("config-init", lambda c: TrainConfig(init="xavier"), ValueError, r"init must be one of normal, lecun, he"),
    Case("config-decay-str", lambda c: TrainConfig(weight_decay="x"), ValueError, r"weight_decay must be a non-neg"),
    Case("config-decay-gd", lambda c: TrainConfig(weight_decay=0.1), ValueError, r"weight_decay needs optimizer"),
    Case("config-lr-bool", lambda c: TrainConfig(lr=True), ValueError, r"lr must be a positive number; got True"),
    Case("config-smooth-quad", lambda c: TrainConfig(label_smoothing=0.1), ValueError, r"needs cost 'cross-entropy'"),
    Case("config-sizes-huge", lambda c: TrainConfig(sizes=(784, 10**10, 10)), ValueError, r"need about .* GiB"),
    Case("config-from-dict-typo", lambda c: TrainConfig.from_dict({"lrr": 1.0}), ValueError, r"unknown config fields"),
    Case("config-from-list", lambda c: TrainConfig.from_dict([1, 2]), TypeError, r"config is a list; expected a dict"),
    Case("init-sizes-huge", lambda c: jaxmlp.init_params(KEY, (784, 10**10, 10)), ValueError, r"GiB"),
    Case("history-malformed", lambda c: History.from_dict({"train_cost": "x"}), ValueError, r"history\['train_cost'\]"),
    Case("history-ragged", lambda c: History.from_dict({"train_cost": [1.0]}), ValueError, r"different lengths"),
    Case(
        "config-xent-identity",
        lambda c: TrainConfig(cost="cross-entropy", output="identity"),
        ValueError,
        r"cross-entropy' needs output 'softmax' or 'sigmoid'",
    ),
    # Dataset (the data layer's checks)
    Case("data-float-pixels", lambda c: _dataset(x_train=np.zeros((100, 784))), TypeError, r"dtype float64"),
    Case("data-width", lambda c: _dataset(x_test=np.zeros((20, 28, 28), np.uint8)), ValueError, r"x_test has shape"),
    Case("data-label-10", lambda c: _dataset(y_train=np.full(100, 10)), ValueError, r"label 10 at index 0"),
    Case("data-label-count", lambda c: _dataset(y_test=np.zeros(19, int)), ValueError, r"19 labels but there are 20"),
    Case("data-float-labels", lambda c: _dataset(y_train=np.zeros(100)), TypeError, r"labels must be integers"),
    Case(
        "data-empty",
        lambda c: _dataset(x_test=np.zeros((0, 784), np.uint8), y_test=np.zeros(0, int)),
        ValueError,
        r"x_test is empty",
    ),
    # load_mnist
    Case("mnist-source", lambda c: jaxmlp.load_mnist("kaggle"), ValueError, r"source is 'kaggle'; expected one of"),
    Case("mnist-dataset", lambda c: jaxmlp.load_mnist(dataset="kmnist"), ValueError, r"dataset is 'kmnist'"),
    Case(
        "mnist-empty-data-dir",
        lambda c: jaxmlp.load_mnist("idx", data_dir=c.empty_dir, cache_dir=c.empty_dir),
        MNISTUnavailableError,
        r"could not load mnist",
    ),
    # load_params / save_params
    Case("load-missing", lambda c: checkpoint.load_params(c.missing), ValueError, r"no checkpoint file at"),
    Case("load-corrupt", lambda c: checkpoint.load_params(c.corrupt), ValueError, r"not a readable jaxmlp checkpoint"),
    Case("load-truncated", lambda c: checkpoint.load_params(c.truncated), ValueError, r"not a readable jaxmlp"),
    Case("load-wrong-keys", lambda c: checkpoint.load_params(c.wrong_keys), ValueError, r"missing layers/0/b"),
    Case("load-int-weights", lambda c: checkpoint.load_params(c.int_weights), ValueError, r"dtype int64; expected"),
    Case("load-nan", lambda c: checkpoint.load_params(c.nan_params), ValueError, r"layers/1/w holds NaN"),
    Case("load-bad-chain", lambda c: checkpoint.load_params(c.bad_chain), ValueError, r"takes 15 inputs"),
    Case(
        "load-like",
        lambda c: checkpoint.load_params(c.good_params, like=_zeros((784, 32, 16, 10))),
        ValueError,
        r"layers/0/w has shape \(784, 16\) and dtype float32; expected \(784, 32\)",
    ),
    Case(
        "load-like-dtype",
        lambda c: checkpoint.load_params(c.good_params, like=_zeros((784, 16, 16, 10), np.float16)),
        ValueError,
        r"dtype float32; expected \(784, 16\) and float16",
    ),
    Case(
        "load-sizes",
        lambda c: checkpoint.load_params(c.good_params, expected_sizes=(784, 30, 10)),
        ValueError,
        r"layer sizes \(784, 16, 16, 10\); expected \(784, 30, 10\)",
    ),
    Case(
        "save-nan",
        lambda c: checkpoint.save_params(c.good_params, _set(c.params, 0, "w", c.params[0]["w"] * np.nan)),
        ValueError,
        r"refusing to save non-finite values",
    ),
    Case("save-not-params", lambda c: checkpoint.save_params(c.good_params, {"w": 1}), TypeError, r"list of layers"),
    # load_state / save_state
    Case("state-from-params", lambda c: resume.load_state(c.good_params), ValueError, r"not a resume checkpoint"),
    Case(
        "state-other-config",
        lambda c: resume.load_state(c.good_state, dataclasses.replace(SMALL, lr=0.5)),
        ValueError,
        r"different config: lr=3\.0 \(this run: 0\.5\)",
    ),
    Case(
        "state-opt-mismatch",
        lambda c: resume.load_state(c.adam_state_as_gd),
        ValueError,
        r"does not match the expected structure: unexpected opt_state/",
    ),
    Case(
        "state-save-nan",
        lambda c: resume.save_state(
            c.good_state, init_state(SMALL)._replace(params=_set(c.params, 1, "b", jnp.full(16, jnp.inf))), SMALL
        ),
        ValueError,
        r"refusing to save non-finite values \(params/layers/1/b\)",
    ),
    # validate helpers used at the entry points
    Case(
        "labels-list",
        lambda c: validate.check_labels([1, 2]),
        TypeError,
        r"y is a list; expected a numpy.ndarray or jax.Array",
    ),
    Case("labels-negative", lambda c: validate.check_labels(np.array([3, -1])), ValueError, r"label -1 at index 1"),
    Case("images-inf", lambda c: validate.check_images(X.copy().clip(np.inf)), ValueError, r"non-finite pixel \(inf\)"),
]


def _gradcheck_cases() -> list[Case]:
    from jaxmlp import reference
    from jaxmlp.gradcheck import check_gradients

    def call(**kwargs: Any) -> Callable[[Any], Any]:
        return lambda c: check_gradients(reference.backprop, c.params64, X.astype(np.float64), Y, **kwargs)

    def with_input(x: Any = X, y: Any = Y, fn: Any = reference.backprop) -> Callable[[Any], Any]:
        return lambda c: check_gradients(fn, c.params64, np.asarray(x, np.float64) if x is X else x, y)

    return [
        Case("check-gradients-reference", call(reference="numeric"), ValueError, r"reference must be one of"),
        Case("check-gradients-fd-mode", call(fd_mode="some"), ValueError, r"fd_mode must be one of"),
        Case("check-gradients-cost", call(cost="hinge"), ValueError, r"cost must be one of"),
        Case("check-gradients-x-width", with_input(x=X[:, :783]), ValueError, r"x has shape \(4, 783\)"),
        Case("check-gradients-x-nan", with_input(x=X * np.nan), ValueError, r"non-finite pixel"),
        Case("check-gradients-label-10", with_input(y=Y + 7), ValueError, r"label 10 at index 3"),
        Case("check-gradients-float-y", with_input(y=Y * 1.0), TypeError, r"labels must be integers"),
        Case("check-gradients-not-callable", with_input(fn="backprop"), TypeError, r"grad_fn .*callable"),
    ]


CLI_CASES = [
    CliCase("no-command", lambda c: [], r"required: COMMAND"),
    CliCase("unknown-command", lambda c: ["fly"], r"invalid choice: 'fly'"),
    CliCase("train-unknown-flag", lambda c: ["train", "--speed", "3"], r"unrecognized arguments: --speed"),
    CliCase("train-preset", lambda c: ["train", "--preset", "fast"], r"--preset: invalid choice: 'fast'"),
    CliCase("train-sizes-text", lambda c: ["train", "--sizes", "784,x,10"], r"comma-separated layer widths"),
    CliCase("train-sizes-ends", lambda c: ["train", "--sizes", "784,16,9"], r"start at 784, end at 10"),
    CliCase("train-activation", lambda c: ["train", "--activation", "gelu"], r"--activation: invalid choice"),
    CliCase("train-output", lambda c: ["train", "--output", "tanh"], r"--output: invalid choice"),
    CliCase("train-cost", lambda c: ["train", "--cost", "hinge"], r"--cost: invalid choice"),
    CliCase("train-optimizer", lambda c: ["train", "--optimizer", "lbfgs"], r"--optimizer: invalid choice"),
    CliCase("train-lr-zero", lambda c: ["train", "--lr", "0"], r"--lr: expected a positive float; got '0'"),
    CliCase("train-lr-nan", lambda c: ["train", "--lr", "nan"], r"--lr: expected a positive float"),
    CliCase("train-lr-text", lambda c: ["train", "--lr", "fast"], r"--lr: expected a positive float"),
    CliCase("train-schedule", lambda c: ["train", "--schedule", "step"], r"--schedule: invalid choice"),
    CliCase("train-batch-zero", lambda c: ["train", "--batch-size", "0"], r"--batch-size: expected a positive int"),
    CliCase("train-batch-text", lambda c: ["train", "--batch-size", "all"], r"--batch-size: expected a positive int"),
    CliCase("train-epochs-zero", lambda c: ["train", "--epochs", "0"], r"--epochs: expected a positive int"),
    CliCase("train-epochs-frac", lambda c: ["train", "--epochs", "1.5"], r"--epochs: expected a positive int"),
    CliCase("train-shift-big", lambda c: ["train", "--shift", "9"], r"shift must be an integer in 0\.\.4; got 9"),
    CliCase("train-shift-text", lambda c: ["train", "--shift", "x"], r"--shift: invalid int value"),
    CliCase("train-seed-text", lambda c: ["train", "--seed", "abc"], r"--seed: invalid int value"),
    CliCase("train-xent-identity", lambda c: ["train", "--cost", "cross-entropy", "--output", "identity"], r"needs"),
    CliCase("train-source", lambda c: ["train", "--source", "kaggle"], r"--source: invalid choice"),
    CliCase("train-data-dir", lambda c: ["train", "--data-dir", c.missing], r"--data-dir .* is not a folder"),
    CliCase(
        "train-no-idx-files",
        lambda c: ["train", "--source", "idx", "--data-dir", c.empty_dir],
        r"could not load mnist \(tried idx: .* lacks",
    ),
    CliCase("train-out-file", lambda c: ["train", "--out", c.corrupt], r"--out .* is a file; expected a folder"),
    CliCase("train-json-value", lambda c: ["train", "--json=yes"], r"--json: ignored explicit argument"),
    CliCase("train-resume-missing", lambda c: ["train", "--resume", c.missing], r"--resume .*: no such file"),
    CliCase("train-resume-corrupt", lambda c: ["train", "--resume", c.corrupt], r"not a readable jaxmlp checkpoint"),
    CliCase("train-resume-params", lambda c: ["train", "--resume", c.good_params], r"not a resume checkpoint"),
    CliCase(
        "train-resume-other-lr",
        lambda c: ["train", "--resume", c.good_state, "--lr", "0.5"],
        r"saved with lr=3\.0 \(flag: 0\.5\); drop those flags",
    ),
    CliCase(
        "train-resume-other-preset",
        lambda c: ["train", "--resume", c.good_state, "--preset", "best"],
        r"saved with preset='seed' \(flag: 'best'\)",
    ),
    CliCase("train-resume-finished", lambda c: ["train", "--resume", c.finished_state], r"already finished all 2"),
    CliCase("train-out-empty", lambda c: ["train", "--out", ""], r"--out is empty"),
    CliCase("train-out-other-run", lambda c: ["train", "--out", c.run_dir], r"already holds another run's params\.npz"),
    CliCase("train-seed-huge", lambda c: ["train", "--seed", str(2**70), "--out", c.fresh()], r"seed must be an int"),
    CliCase("train-sizes-huge", lambda c: ["train", "--sizes", "784,10000000000,10"], r"need about [\d,.]+ GiB"),
    CliCase("train-decay-gd", lambda c: ["train", "--weight-decay", "0.1"], r"weight_decay needs optimizer 'adamw'"),
    CliCase("train-flag-typo", lambda c: ["train", "--epoch", "3"], r"did you mean --epochs"),
    CliCase("train-resume-empty", lambda c: ["train", "--resume", ""], r"--resume '': no such file"),
    CliCase("command-typo", lambda c: ["trian"], r"invalid choice: 'trian' .*; did you mean 'train'\?"),
    CliCase("choice-typo", lambda c: ["train", "--activation", "sigmod"], r"did you mean 'sigmoid'\?"),
    CliCase(
        "evaluate-folder",
        lambda c: ["evaluate", c.run_dir],
        r"no checkpoint file at \S+ \(did you mean \S+params\.npz\?\)",
    ),
    CliCase("evaluate-future", lambda c: ["evaluate", c.future], r"written in format 99, newer than this jaxmlp reads"),
    CliCase("evaluate-text", lambda c: ["evaluate", c.corrupt], r"\(not a NumPy \.npz archive of arrays\)$"),
    CliCase("train-devices-absent", lambda c: ["train", "--devices", "3"], r"devices=3 asked for, but JAX sees 1"),
    CliCase("evaluate-not-mnist", lambda c: ["evaluate", c.not_mnist], r"an MNIST network needs 784 inputs and 10"),
    CliCase("predict-not-mnist", lambda c: ["predict", c.not_mnist, c.corrupt], r"an MNIST network needs 784"),
    CliCase("evaluate-no-file", lambda c: ["evaluate"], r"required: params"),
    CliCase("evaluate-missing", lambda c: ["evaluate", c.missing], r"no checkpoint file at"),
    CliCase("evaluate-corrupt", lambda c: ["evaluate", c.corrupt], r"not a readable jaxmlp checkpoint"),
    CliCase("evaluate-truncated", lambda c: ["evaluate", c.truncated], r"not a readable jaxmlp checkpoint"),
    CliCase("evaluate-nan", lambda c: ["evaluate", c.nan_params], r"layers/1/w holds NaN"),
    CliCase("evaluate-wrong-keys", lambda c: ["evaluate", c.wrong_keys], r"missing layers/0/b"),
    CliCase("evaluate-source", lambda c: ["evaluate", c.good_params, "--source", "web"], r"--source: invalid choice"),
    CliCase("evaluate-data-dir", lambda c: ["evaluate", c.good_params, "--data-dir", c.missing], r"is not a folder"),
    CliCase("gradcheck-batch", lambda c: ["gradcheck", "--batch", "0"], r"--batch must be at least 1"),
    CliCase("gradcheck-dtype", lambda c: ["gradcheck", "--dtype", "float16"], r"--dtype: invalid choice"),
    CliCase("gradcheck-output", lambda c: ["gradcheck", "--output", "identity"], r"--output: invalid choice"),
    CliCase("gradcheck-fd-mode", lambda c: ["gradcheck", "--fd-mode", "some"], r"--fd-mode: invalid choice"),
    CliCase("gradcheck-tolerance", lambda c: ["gradcheck", "--tolerance", "tiny"], r"--tolerance: invalid float"),
    CliCase("gradcheck-grad-fn-form", lambda c: ["gradcheck", "--grad-fn", "nocolon"], r"must look like module:fun"),
    CliCase("gradcheck-grad-fn-module", lambda c: ["gradcheck", "--grad-fn", "no_such_mod_x:f"], r"cannot import"),
    CliCase("gradcheck-grad-fn-file", lambda c: ["gradcheck", "--grad-fn", c.missing + ".py:f"], r"no file"),
    CliCase("inspect-no-out", lambda c: ["inspect", c.good_params], r"required: --out"),
    CliCase("inspect-missing", lambda c: ["inspect", c.missing, "--out", c.empty_dir], r"no checkpoint file at"),
    CliCase("inspect-image-text", lambda c: ["inspect", c.good_params, "--image", "x", "--out", "o"], r"invalid int"),
    CliCase("predict-no-image", lambda c: ["predict", c.good_params], r"required: image"),
    CliCase("predict-missing-params", lambda c: ["predict", c.missing, c.corrupt], r"no checkpoint file at"),
    CliCase("predict-missing-image", lambda c: ["predict", c.good_params, c.missing], r"no image file at"),
    CliCase("predict-not-image", lambda c: ["predict", c.good_params, c.corrupt], r"cannot read .* as an image"),
    CliCase("train-devices", lambda c: ["train", "--devices", "zero"], r"--devices: expected"),
    CliCase("train-ensemble", lambda c: ["train", "--ensemble", "0"], r"--ensemble: expected a positive"),
    CliCase("train-lr-list", lambda c: ["train", "--lr", "0.1,0.2"], r"list of learning rates needs --ense"),
    CliCase(
        "train-ensemble-resume",
        lambda c: ["train", "--ensemble", "2", "--resume", c.good_state],
        r"does not combine with .*--resume",
    ),
    CliCase("train-coordinator-alone", lambda c: ["train", "--coordinator", "h:1"], r"needs all of"),
    CliCase("train-num-processes", lambda c: ["train", "--num-processes", "0"], r"--num-processes: expected"),
    CliCase("train-process-id", lambda c: ["train", "--process-id", "x"], r"--process-id: invalid int"),
]


ALL_LIBRARY_CASES = LIBRARY_CASES + _gradcheck_cases()
ALL_CLI_CASES = CLI_CASES


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> types.SimpleNamespace:
    """Parameters, a small dataset and a folder of good, damaged and mismatched files."""
    d = tmp_path_factory.mktemp("bad-inputs")
    params = jaxmlp.init_params(KEY)
    c = types.SimpleNamespace(params=params, data=_dataset(), missing=str(d / "missing.npz"))
    with jax.enable_x64(True):
        c.params64 = [{k: np.asarray(v, np.float64) for k, v in layer.items()} for layer in params]
    (d / "empty").mkdir()
    c.empty_dir = str(d / "empty")
    c.good_params = str(d / "params.npz")
    checkpoint.save_params(c.good_params, params, {"config": SMALL.to_dict()})
    c.future = str(d / "future.npz")
    checkpoint.write_npz(c.future, checkpoint.flatten_params(params), {"format": "jaxmlp-params", "format_version": 99})
    c.not_mnist = str(d / "not-mnist.npz")
    checkpoint.save_params(c.not_mnist, _zeros((784, 16, 9)))
    (d / "other-run").mkdir()
    (d / "other-run" / "params.npz").write_bytes(pathlib.Path(c.good_params).read_bytes())
    c.run_dir = str(d / "other-run")
    fresh = itertools.count()
    c.fresh = lambda: str(d / f"fresh-{next(fresh)}")
    c.good_state = str(d / "state.npz")
    resume.save_state(c.good_state, init_state(SMALL), SMALL, {"preset": "seed"})
    c.finished_state = str(d / "finished.npz")
    resume.save_state(c.finished_state, init_state(SMALL)._replace(epoch=2), SMALL)
    adam = dataclasses.replace(SMALL, optimizer="adam")
    c.adam_state_as_gd = str(d / "adam-as-gd.npz")
    resume.save_state(c.adam_state_as_gd, init_state(adam), SMALL)  # gd config, adam's optimizer arrays
    c.corrupt = str(d / "corrupt.npz")
    (d / "corrupt.npz").write_bytes(b"this is not a zip file\n" * 10)
    good = (d / "params.npz").read_bytes()
    c.truncated = str(d / "truncated.npz")
    (d / "truncated.npz").write_bytes(good[: len(good) // 2])
    flat = checkpoint.flatten_params(params)
    c.wrong_keys = _npz(d / "wrong-keys.npz", {k: v for k, v in flat.items() if k != "layers/0/b"})
    c.int_weights = _npz(d / "int.npz", {**flat, "layers/0/w": flat["layers/0/w"].astype(np.int64)})
    c.nan_params = _npz(d / "nan.npz", {**flat, "layers/1/w": flat["layers/1/w"] * np.nan})
    c.bad_chain = _npz(d / "chain.npz", {**flat, "layers/1/w": np.ones((15, 16), np.float32)})
    return c


def _npz(path: Any, arrays: dict[str, np.ndarray]) -> str:
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in ALL_LIBRARY_CASES])
def test_library_rejects(case: Case, ctx: types.SimpleNamespace) -> None:
    with pytest.raises(case.error) as info:
        case.call(ctx)
    message = str(info.value)
    assert re.search(case.match, message), message
    if case.error is not MNISTUnavailableError:  # that one lists every source tried, one per line, on purpose
        assert "\n" not in message.strip(), message


@pytest.mark.parametrize("case", ALL_CLI_CASES, ids=lambda case: case.id)
def test_cli_rejects(case: CliCase, ctx: types.SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(case.argv(ctx))
    err = capsys.readouterr().err
    assert code == 2, err
    lines = 2 if "could not load" in err else 1  # a missing data source: what was tried, then what to do
    assert err.endswith("\n") and err.count("\n") == lines, f"expected {lines} line(s) on stderr, got:\n{err}"
    assert err.startswith("jaxmlp") and "Traceback" not in err
    assert re.search(case.match, err), err


def test_refused_save_leaves_file_untouched(ctx: types.SimpleNamespace) -> None:
    """Refused saves leave the good file as it was (atomic write, checks before writing)."""
    good = pathlib.Path(ctx.good_params)
    before = good.read_bytes()
    with pytest.raises(ValueError):
        checkpoint.save_params(good, _set(ctx.params, 0, "b", jnp.full(16, jnp.nan)))
    assert good.read_bytes() == before
    assert list(good.parent.glob(".tmp-*")) == []
