"""check_gradients passes correct gradients, names the leaf of a wrong one, and the CLI exits accordingly."""

import itertools
import json
import time

import jax
import numpy as np
import pytest

from jaxmlp import cli, reference
from jaxmlp.gradcheck import check_gradients
from jaxmlp.grads import grad

SEED_SIZES = (784, 16, 16, 10)
ALL_LEAVES = {f"layer {layer} {name!r}" for layer in (1, 2, 3) for name in ("w", "b")}


def make_params(sizes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [
        {"w": rng.standard_normal((m, n)).astype(dtype), "b": rng.standard_normal(n).astype(dtype)}
        for m, n in itertools.pairwise(sizes)
    ]


def make_batch(n, n_in=784, n_out=10, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in))
    return np.where(x > 0.8, x, 0.0), rng.integers(0, n_out, n)


def learner_backprop(params, x, y, bug=None):
    """A learner's sigmoid network with quadratic cost, written from the four equations, with one optional bug."""

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    activations, zs = [x], []
    for layer in params:
        zs.append(activations[-1] @ layer["w"] + layer["b"])
        activations.append(sigmoid(zs[-1]))
    a, n = activations[-1], len(x)
    t = np.eye(a.shape[1])[y]
    delta = (1 if bug == "factor 2" else 2) * (a - t) * a * (1 - a) / n
    grads = []
    for i in range(len(params), 0, -1):
        grad_w = delta.T @ activations[i - 1] if bug == "transposed" and i == 2 else activations[i - 1].T @ delta
        if bug == "sign" and i == len(params):
            grad_w = -grad_w
        grad_b = delta.sum(axis=0) * (n if bug == "bias summed" else 1)
        grads.insert(0, {"w": grad_w, "b": grad_b})
        if i > 1:
            s = sigmoid(zs[i - 2])
            delta = (delta @ params[i - 1]["w"].T) * (s if bug == "sigmoid derivative" else s * (1 - s))
    return grads


def test_reference_passes_against_jax_on_the_seed_network():
    params, (x, y) = make_params(SEED_SIZES), make_batch(16)
    report = check_gradients(reference.backprop, params, x, y)
    assert report.passed and report.dtype == "float64" and report.tolerance == 1e-12
    assert {leaf.name for leaf in report.leaves} == ALL_LEAVES
    assert all(leaf.relative_error <= 1e-12 for leaf in report.leaves)


def test_check_leaves_64_bit_jax_switched_off():
    params, (x, y) = make_params((6, 4, 3)), make_batch(3, 6, 3)
    check_gradients(reference.backprop, params, x, y)
    check_gradients(reference.backprop, params, x, y, reference="finite-differences")
    assert not jax.config.jax_enable_x64


def test_float32_gradient_from_jax_arrays_passes():
    params, (x, y) = make_params(SEED_SIZES, np.float32), make_batch(8)
    report = check_gradients(lambda p, x, y: grad(p, x, y, cost="cross-entropy"), params, x, y, cost="cross-entropy")
    assert report.passed and report.dtype == "float32" and report.tolerance == 1e-5


@pytest.mark.parametrize(
    ("activation", "output", "cost"), [("tanh", "softmax", "quadratic"), ("relu", "sigmoid", "cross-entropy")]
)
def test_finite_differences_agree_on_a_small_network(activation, output, cost):
    params, (x, y) = make_params((12, 7, 5, 4), seed=2), make_batch(5, 12, 4)
    kwargs = {"activation": activation, "output": output, "cost": cost}
    fn = lambda p, x, y: reference.backprop(p, x, y, **kwargs)  # noqa: E731
    for mode in ("all", "directions"):
        report = check_gradients(fn, params, x, y, reference="finite-differences", fd_mode=mode, **kwargs)
        assert report.passed, str(report)
        assert all(leaf.relative_error <= 1e-6 for leaf in report.leaves)


def test_finite_differences_over_all_13002_parameters_take_seconds():
    params, (x, y) = make_params(SEED_SIZES), make_batch(4)
    start = time.perf_counter()
    report = check_gradients(reference.backprop, params, x, y, reference="finite-differences")
    assert time.perf_counter() - start < 60  # about 5-10 s on two shared CPU cores
    assert "13002" in report.method
    assert report.passed, str(report)


def test_learner_backprop_without_bugs_passes():
    params, (x, y) = make_params(SEED_SIZES), make_batch(8)
    assert check_gradients(learner_backprop, params, x, y).passed


@pytest.mark.parametrize(
    ("bug", "wrong"),
    [
        ("factor 2", ALL_LEAVES),
        ("transposed", {"layer 2 'w'"}),  # the 16 × 16 layer: same shape, wrong values
        ("bias summed", {"layer 1 'b'", "layer 2 'b'", "layer 3 'b'"}),
        ("sign", {"layer 3 'w'"}),
        ("sigmoid derivative", {"layer 1 'w'", "layer 1 'b'", "layer 2 'w'", "layer 2 'b'"}),
    ],
)
def test_wrong_derivations_are_caught_by_leaf(bug, wrong):
    params, (x, y) = make_params(SEED_SIZES), make_batch(8)
    report = check_gradients(lambda p, x, y: learner_backprop(p, x, y, bug), params, x, y)
    assert not report.passed
    assert set(report.failures) == wrong
    for name in wrong:
        assert name in str(report)


def test_missing_factor_two_gives_relative_error_one_half_and_bias_sum_n_minus_one():
    params, (x, y) = make_params(SEED_SIZES), make_batch(8)
    half = check_gradients(lambda p, x, y: learner_backprop(p, x, y, "factor 2"), params, x, y)
    assert all(leaf.relative_error == pytest.approx(0.5) for leaf in half.leaves)
    summed = check_gradients(lambda p, x, y: learner_backprop(p, x, y, "bias summed"), params, x, y)
    assert summed.leaf(2, "b").relative_error == pytest.approx(len(x) - 1)


@pytest.mark.parametrize(
    ("bug", "leaf", "hint"),
    [
        ("factor 2", (1, "w"), "equals 0.5 x the reference: a factor 2"),
        ("transposed", (2, "w"), "equals the reference transposed"),
        ("bias summed", (2, "b"), "equals 8 x the reference: a constant factor"),
        ("sign", (3, "w"), "equals minus the reference: a sign error"),
    ],
)
def test_a_recognisable_mistake_gets_a_hint_naming_it(bug, leaf, hint):
    params, (x, y) = make_params(SEED_SIZES), make_batch(8)
    report = check_gradients(lambda p, x, y: learner_backprop(p, x, y, bug), params, x, y)
    assert report.leaf(*leaf).hint.startswith(hint)
    assert hint in str(report)
    assert report.to_dict()["leaves"][2 * (leaf[0] - 1) + (leaf[1] == "b")]["hint"].startswith(hint)


def test_an_unrecognisable_mistake_gets_no_hint():
    params, (x, y) = make_params(SEED_SIZES), make_batch(8)
    report = check_gradients(lambda p, x, y: learner_backprop(p, x, y, "sigmoid derivative"), params, x, y)
    assert all(leaf.hint is None for leaf in report.leaves)


def test_finite_difference_directions_catch_a_wrong_derivation():
    params, (x, y) = make_params((12, 6, 6, 4)), make_batch(5, 12, 4)
    report = check_gradients(
        lambda p, x, y: learner_backprop(p, x, y, "sign"),
        params,
        x,
        y,
        reference="finite-differences",
        fd_mode="directions",
    )
    assert report.failures == ("layer 3 'w'",)


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (
            lambda g: [{"w": g[0]["w"].T, "b": g[0]["b"]}, *g[1:]],
            "layer 1 'w': shape (16, 784) but expected (784, 16) — transposed?",
        ),
        (lambda g: g[:2], "grad_fn returned 2 layers; params has 3"),
        (lambda g: [(layer["w"], layer["b"]) for layer in g], "layer 1: got a tuple; expected a dict"),
        (
            lambda g: [g[0], {"W": g[1]["w"], "b": g[1]["b"]}, g[2]],
            "layer 2 'w': missing (the layer's keys are ['W', 'b'])",
        ),
        (lambda g: {"w": g[0]["w"]}, "grad_fn returned a dict; expected a list"),
        (lambda g: [{"w": g[0]["w"][None].repeat(3, 0), "b": g[0]["b"]}, *g[1:]], "one gradient per example?"),
    ],
)
def test_wrong_structure_gets_a_readable_message(returned, message):
    params, (x, y) = make_params(SEED_SIZES), make_batch(3)
    report = check_gradients(lambda p, x, y: returned(reference.backprop(p, x, y)), params, x, y)
    assert not report.passed
    assert message in str(report)
    json.dumps(report.to_dict())


def test_report_converts_to_json():
    params, (x, y) = make_params((6, 4, 3)), make_batch(3, 6, 3)
    report = check_gradients(lambda p, x, y: learner_backprop(p, x, y, "sign"), params, x, y)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is False and data["failures"] == ["layer 2 'w'"]
    assert [(leaf["layer"], leaf["leaf"]) for leaf in data["leaves"]] == [(1, "w"), (1, "b"), (2, "w"), (2, "b")]


def test_cli_passes_the_reference_in_float64(capsys):
    assert cli.main(["gradcheck", "--dtype", "float64", "--batch", "8", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] and len(data["leaves"]) == 6
    assert all(leaf["relative_error"] <= 1e-12 for leaf in data["leaves"])
    assert cli.main(["gradcheck", "--dtype", "float64", "--batch", "8"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and sum(line.endswith(" pass") for line in out.splitlines()) == 6


def test_cli_names_the_wrong_leaf_of_a_user_gradient(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_backprop.py").write_text(
        "import numpy as np\n"
        "def grad(params, x, y):\n"
        "    from jaxmlp.reference import backprop\n"
        "    g = backprop(params, x, y)\n"
        "    g[1]['b'] = g[1]['b'] * len(x)  # summed, not averaged\n"
        "    return g\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["gradcheck", "--batch", "8", "--grad-fn", "my_backprop:grad"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: layer 2 'b'" in out
    assert cli.main(["gradcheck", "--batch", "8", "--grad-fn", f"{tmp_path / 'my_backprop.py'}:grad"]) == 1


def test_cli_bad_usage_exits_2(capsys):
    assert cli.main(["gradcheck", "--batch", "0"]) == 2
    assert cli.main(["gradcheck", "--grad-fn", "no_such_module_xyz:grad"]) == 2
    assert "cannot import no_such_module_xyz" in capsys.readouterr().err
