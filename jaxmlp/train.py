"""Training: ``fit`` runs gradient descent, one compiled ``lax.scan`` program per epoch, and ``evaluate`` scores.

Everything that changes the computation is a field of the frozen ``TrainConfig`` (``jaxmlp.config``), so it is
static and explicit; the parameters, optimizer state, step count and random key travel together in a
``TrainState`` (``jaxmlp.epoch``, which also holds the epoch itself).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.config import PRESETS, TrainConfig
from jaxmlp.costs import cost_function
from jaxmlp.data import Dataset
from jaxmlp.epoch import TrainState, compiled_epoch, init_state
from jaxmlp.errors import InputError
from jaxmlp.files import cache_root, versions
from jaxmlp.model import AnyArray, Params, ParamsLike, forward
from jaxmlp.parallel import Devices, check_batch, data_mesh, replicate
from jaxmlp.validate import check_images, check_labels, check_mnist_network, check_params, to_float

__all__ = ["PRESETS", "DivergenceError", "History", "TrainConfig", "TrainState", "evaluate", "fit", "run_metrics"]


@dataclasses.dataclass
class History:
    """Per-epoch record of a run. Costs are averages over examples; times are seconds."""

    train_cost: list[float] = dataclasses.field(default_factory=list)
    test_cost: list[float] = dataclasses.field(default_factory=list)
    test_accuracy: list[float] = dataclasses.field(default_factory=list)
    epoch_seconds: list[float] = dataclasses.field(default_factory=list)
    compile_seconds: float = 0.0
    examples_per_epoch: int = 0

    @property
    def examples_per_second(self) -> float:
        """Median training throughput, compile excluded."""
        return self.examples_per_epoch / float(np.median(self.epoch_seconds)) if self.epoch_seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON values, with the derived ``examples_per_second``."""
        return {**dataclasses.asdict(self), "examples_per_second": self.examples_per_second}

    @classmethod
    def from_dict(cls, record: Any) -> History:
        """The inverse of ``to_dict`` (derived entries are ignored); a malformed record is an ``InputError``."""
        lists = ("train_cost", "test_cost", "test_accuracy", "epoch_seconds")
        if not isinstance(record, dict):
            raise InputError(f"history is a {type(record).__name__}; expected a dict like History.to_dict()")
        values: dict[str, Any] = {}
        for name in lists:
            entry = record.get(name, [])
            if not isinstance(entry, list) or not all(_is_real(v) for v in entry):
                raise InputError(f"history[{name!r}] is {entry!r:.60}; expected a list of numbers")
            values[name] = [float(v) for v in entry]
        if len({len(values[name]) for name in lists}) > 1:
            raise InputError("history lists have different lengths; expected one entry per epoch in each")
        for name in ("compile_seconds", "examples_per_epoch"):
            if name in record and not _is_real(record[name]):
                raise InputError(f"history[{name!r}] is {record[name]!r:.60}; expected a number")
        values["compile_seconds"] = float(record.get("compile_seconds", 0.0))
        values["examples_per_epoch"] = int(record.get("examples_per_epoch", 0))
        return cls(**values)


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class DivergenceError(RuntimeError):
    """Training produced a non-finite cost or params. ``state`` holds the last finite state, ``history`` the record."""

    def __init__(self, message: str, state: TrainState, history: History):
        super().__init__(message)
        self.state, self.history = state, history


@functools.lru_cache(maxsize=32)
def _evaluate_fn(config: TrainConfig) -> Callable[..., Any]:
    cost_fn = cost_function(config.cost, activation=config.activation, output=config.output)

    def evaluate_(params: ParamsLike, x: AnyArray, y: AnyArray) -> tuple[jax.Array, jax.Array]:
        xf = to_float(x)
        outputs = forward(params, xf, activation=config.activation, output=config.output)
        return cost_fn(params, xf, y), jnp.mean(jnp.argmax(outputs, -1) == y)

    return jax.jit(evaluate_)


def evaluate(params: ParamsLike, x: Any, y: Any, config: TrainConfig = PRESETS["seed"]) -> tuple[float, float]:
    """``(cost, accuracy)`` of ``params`` on images ``x`` ``(n, 784)`` (uint8 or floats in [0, 1]) and labels ``y``.

    The cost is ``config.cost`` without label smoothing (what the test cost in ``History`` reports). One jit call.
    """
    check_mnist_network(check_params(params))
    check_images(x)
    check_labels(y, x.shape[0])
    cost, acc = _evaluate_fn(config)(params, jnp.asarray(x), jnp.asarray(y, jnp.int32))
    return float(cost), float(acc)


def enable_compilation_cache(path: str | None = None) -> str | None:
    """Turn on JAX's persistent compilation cache (unless the user already chose a folder); never fatal.

    Default location: ``<jaxmlp cache folder>/xla`` (see ``jaxmlp.files.cache_root``). Set
    ``JAXMLP_COMPILATION_CACHE=0`` to leave JAX's settings alone. A folder that cannot be created or written is
    skipped with one warning: the cache only saves compile time.
    """
    chosen = jax.config.values.get("jax_compilation_cache_dir")
    if os.environ.get("JAXMLP_COMPILATION_CACHE", "1") == "0" or chosen:
        return chosen
    path = path or os.fspath(cache_root() / "xla")
    try:
        os.makedirs(path, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(f"{path} is not writable")
    except OSError as error:
        warnings.warn(f"compilation cache off ({error}); compiles will not be reused", RuntimeWarning, stacklevel=2)
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    return path


def check_state(state: Any, config: TrainConfig) -> None:
    """``state`` must be a ``TrainState`` for a network of ``config.sizes`` with epochs left to train."""
    if not isinstance(state, TrainState):
        raise InputError(f"state is a {type(state).__name__}; expected a TrainState (from on_epoch or load_state)")
    sizes = check_params(state.params, "state.params")
    if sizes != config.sizes:
        raise InputError(f"state.params has layer sizes {sizes}; expected {config.sizes} as in the config")
    if not isinstance(state.epoch, int) or not 0 <= state.epoch < config.epochs:
        raise InputError(f"state is at epoch {state.epoch!r}; expected 0 <= epoch < epochs={config.epochs} to resume")


def _finite(tree: Any) -> bool:
    return all(
        bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(tree) if jnp.issubdtype(leaf.dtype, jnp.inexact)
    )


def fit(
    data: Dataset,
    config: TrainConfig | None = None,
    *,
    state: TrainState | None = None,
    on_epoch: Callable[[TrainState, History], None] | None = None,
    on_compiled: Callable[[float], None] | None = None,
    devices: Devices | None = None,
    history: History | None = None,
    **overrides: Any,
) -> tuple[Params, History]:
    """Train on ``data.x_train`` and report test cost and accuracy after every epoch; return ``(params, history)``.

    ``config`` defaults to ``PRESETS["seed"]``; keyword ``overrides`` replace its fields
    (``fit(data, epochs=5, lr=0.5)``). Pass a ``state`` (from ``on_epoch``) to resume a run;
    ``on_epoch(state, history)`` is called after each finished epoch (for checkpoints and progress), and
    ``on_compiled(seconds)`` once the epoch program is compiled. When resuming, pass the earlier epochs'
    ``history`` too; the returned one continues it (compile times add up).
    Raises ``DivergenceError`` (holding the last finite state) if the cost or the params become NaN or infinite.
    ``devices`` (a count or a list; all of them in a multi-process run) trains data-parallel: every batch is
    split over the devices and the params replicated (``jaxmlp.parallel``); same numbers as one device.
    """
    if not isinstance(data, Dataset):
        raise InputError(
            f"data is a {type(data).__name__}; expected a jaxmlp.Dataset (from load_mnist or Dataset(...))"
        )
    if config is not None and not isinstance(config, TrainConfig):
        raise InputError(f"config is a {type(config).__name__}; expected a TrainConfig (or None for the seed preset)")
    config = (config or PRESETS["seed"]).replace(**overrides)
    check_mnist_network(config.sizes, "config.sizes")
    if state is not None:
        check_state(state, config)
    n_train = int(data.x_train.shape[0])
    if config.batch_size is not None and config.batch_size > n_train:
        raise InputError(f"batch_size {config.batch_size} is larger than the {n_train} training examples")
    enable_compilation_cache()
    current: TrainState = state if state is not None else init_state(config)
    x, y = data.x_train, np.asarray(data.y_train, np.int32)
    # Validated by Dataset already: on the device once, evaluated each epoch without re-checking or re-copying.
    x_test, y_test = jax.device_put(data.x_test), jax.device_put(np.asarray(data.y_test, np.int32))
    mesh = None if devices is None and jax.process_count() == 1 else data_mesh(devices)
    if mesh is None:
        x, y = jax.device_put(x), jax.device_put(y)
    else:  # data-parallel: the dataset and the state on every device, each batch split along "data"
        check_batch(config.batch_size or n_train, mesh)
        x, y, params, opt_state, step, key = replicate((x, y, *current[:4]), mesh)
        current = TrainState(params, opt_state, step, key, current.epoch)

    start = time.perf_counter()
    compiled = compiled_epoch(config, n_train, mesh).lower(current, x, y).compile()
    compile_seconds = time.perf_counter() - start
    if on_compiled is not None:
        on_compiled(compile_seconds)
    history = History.from_dict(history.to_dict()) if history is not None else History()  # a copy
    history.compile_seconds += compile_seconds
    batch = config.batch_size or n_train
    history.examples_per_epoch = (n_train // batch) * batch

    while current.epoch < config.epochs:
        start = time.perf_counter()
        new_state, step_costs = compiled(current, x, y)
        step_costs = np.asarray(step_costs)  # waits for the epoch to finish
        seconds = time.perf_counter() - start
        # The last step's update is not in any cost, so the params are checked too (full batch: one step an epoch).
        if not np.all(np.isfinite(step_costs)) or not _finite(new_state.params):
            finite = np.isfinite(step_costs)
            bad = int(np.argmin(finite)) if not finite.all() else len(step_costs) - 1
            what = f"cost became {step_costs[bad]}" if not finite.all() else "params became NaN or infinite"
            raise DivergenceError(
                f"{what} at epoch {current.epoch + 1}, step {bad + 1}: training diverged; "
                f"try a smaller learning rate than {config.lr}",
                current,
                history,
            )
        current = new_state._replace(epoch=current.epoch + 1)
        eval_params = current.params if mesh is None else jax.device_get(current.params)
        test_cost, test_accuracy = map(float, _evaluate_fn(config)(eval_params, x_test, y_test))
        history.train_cost.append(float(step_costs.mean()))
        history.test_cost.append(test_cost)
        history.test_accuracy.append(test_accuracy)
        history.epoch_seconds.append(seconds)
        if on_epoch is not None:
            on_epoch(current, history)
    return current.params, history


def run_metrics(config: TrainConfig, history: History, source: str, preset: str) -> dict[str, Any]:
    """The ``metrics.json`` record of a run: results, timings, the full config, data source, device and versions.

    ``train_cost`` is the training cost as minimised (on shifted images, with label smoothing where the config
    has it), averaged over each epoch's steps; ``test_cost`` is the plain cost on the unshifted test set.
    """
    device = jax.devices()[0]
    return {
        "test_accuracy": history.test_accuracy[-1] if history.test_accuracy else None,
        "test_cost": history.test_cost[-1] if history.test_cost else None,
        "epochs": len(history.epoch_seconds),
        "epoch_seconds": history.epoch_seconds,
        "compile_seconds": history.compile_seconds,
        "examples_per_second": history.examples_per_second,
        "history": {
            "train_cost": history.train_cost,
            "test_cost": history.test_cost,
            "test_accuracy": history.test_accuracy,
        },
        "preset": preset,
        "config": config.to_dict(),
        "data_source": source,
        "backend": jax.default_backend(),
        "device": f"{device.platform}:{device.device_kind}",
        "versions": versions(),
    }
