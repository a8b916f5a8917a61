"""Ensembles and sweeps: K networks that differ in seed and/or learning rate, trained in ONE compiled program.

The K members' params and optimizer states are stacked along a new leading axis (``w`` becomes
``(K, n_in, n_out)``) and one member's epoch is ``jax.vmap``-ed over it. Each member keeps its own
shuffling and shift keys, so member ``k`` follows the same steps as ``fit`` with ``seed=seeds[k]``,
``lr=lrs[k]``. The learning rate is a traced per-member value: every update is scaled by ``lrs[k] / config.lr``.
With ``shared_batches=True`` all members see the same batches: one gather per step, and the first layer becomes
one wide matrix product ``(batch, 784) @ (784, K·16)`` instead of K small ones (several times faster on CPU).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.config import PRESETS, TrainConfig
from jaxmlp.data import Dataset
from jaxmlp.epoch import TrainState, epoch_body, epoch_parts, init_state
from jaxmlp.errors import InputError
from jaxmlp.model import Params, forward
from jaxmlp.train import enable_compilation_cache
from jaxmlp.validate import check_int, check_memory, check_mnist_network, check_positive_number, to_float


@dataclasses.dataclass
class EnsembleResult:
    """What ``fit_ensemble`` returns. ``params`` leaves carry a leading member axis ``(K, ...)``."""

    params: Params
    seeds: tuple[int, ...]
    lrs: tuple[float, ...]
    member_accuracy: list[float]
    vote_accuracy: float
    mean_output_accuracy: float
    train_cost: list[list[float]] = dataclasses.field(default_factory=list)  # per epoch, per member
    epoch_seconds: list[float] = dataclasses.field(default_factory=list)
    compile_seconds: float = 0.0

    @property
    def size(self) -> int:
        return len(self.seeds)

    def member(self, k: int) -> Params:
        """Member ``k``'s params, in the usual single-network layout."""
        return jax.tree.map(lambda a: a[k], self.params)

    @property
    def networks_per_second(self) -> float:
        """Member-epochs per second (median epoch, compile excluded)."""
        return self.size / float(np.median(self.epoch_seconds)) if self.epoch_seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        skip = {"params"}
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}
        return {**out, "size": self.size, "networks_per_second": self.networks_per_second}


def ensemble_members(
    config: TrainConfig, seeds: Sequence[int] | None, lrs: Sequence[float] | None
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The K ``(seed, lr)`` pairs: one list may have length 1 (or be None: ``config``'s value) and is repeated."""
    seeds = tuple(check_int(s, "seed") for s in (seeds if seeds is not None else (config.seed,)))
    lrs = tuple(check_positive_number(r, "lr") for r in (lrs if lrs is not None else (config.lr,)))
    if not seeds or not lrs:
        raise InputError("an ensemble needs at least one member: give seeds=[...] and/or lrs=[...] with entries")
    k = max(len(seeds), len(lrs))
    if len({len(seeds), len(lrs)} - {1, k}) or (len(seeds) != k and len(seeds) != 1):
        raise InputError(f"seeds ({len(seeds)}) and lrs ({len(lrs)}) must have the same length, or one of them 1")
    check_memory(config.sizes, config.batch_size or 60_000, copies=k)
    return seeds * (k // len(seeds)), lrs * (k // len(lrs))


def _stack(trees: Sequence[Any]) -> Any:
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def _shared_epoch(config: TrainConfig, n_train: int) -> Callable[..., Any]:
    """All members on the same batches (member 0's order and shifts): one gather, then a vmapped update."""
    parts = epoch_parts(config, n_train)
    member_update = jax.vmap(parts.update, in_axes=(0, 0, 0, 0, None, None))

    def epoch(states: TrainState, lr_scales: jax.Array, x: jax.Array, y: jax.Array) -> tuple[TrainState, jax.Array]:
        def step_fn(carry, indices):
            params, opt_state, step, key = carry
            key, xf, yb = parts.next_batch(key, indices, x, y)
            params, opt_state, costs = member_update(params, opt_state, step, lr_scales, xf, yb)
            return (params, opt_state, step + 1, key), costs

        key, order = parts.order(states.key[0])
        params, opt_state = parts.flip((states.params, states.opt_state), states.params)  # the epoch's layout
        (params, opt_state, step, key), costs = jax.lax.scan(step_fn, (params, opt_state, states.step, key), order)
        params, opt_state = parts.flip((params, opt_state), states.params)
        keys = jnp.broadcast_to(key, states.key.shape)
        return TrainState(params, opt_state, step, keys, states.epoch), costs.T

    return epoch


def ensemble_epoch_fn(config: TrainConfig, n_train: int, shared_batches: bool = False) -> Callable[..., Any]:
    """``epoch(states, lr_scales, x, y) -> (states, costs (K, steps))``: all K members' epochs in one ``jit``.

    ``states`` leaves have a leading member axis ``(K, ...)``. ``shared_batches``: every member sees member 0's
    batches (one gather per step instead of K, and one wide matrix product per layer instead of K small ones).
    """
    if shared_batches:
        return jax.jit(_shared_epoch(config, n_train))
    axes = TrainState._make([0, 0, 0, 0, None])  # vmap's in_axes: a pytree of axes in the state's shape
    return jax.jit(jax.vmap(epoch_body(config, n_train), in_axes=(axes, 0, None, None), out_axes=(axes, 0)))


@functools.lru_cache(maxsize=16)
def _outputs_fn(config: TrainConfig) -> Callable[..., jax.Array]:
    def outputs(params: Params, x: jax.Array) -> jax.Array:
        return forward(params, to_float(x), activation=config.activation, output=config.output)

    return jax.jit(jax.vmap(outputs, in_axes=(0, None)))


def ensemble_predictions(params: Params, x: Any, config: TrainConfig) -> jax.Array:
    """Every member's outputs ``(K, n, 10)`` for uint8 images ``x`` ``(n, 784)``; ``params`` leaves ``(K, ...)``."""
    return _outputs_fn(config)(params, jnp.asarray(x))


def ensemble_accuracies(outputs: jax.Array, y: Any) -> tuple[list[float], float, float]:
    """From outputs ``(K, n, 10)``: each member's accuracy, the majority vote's, and the mean output's.

    Vote ties go to the smallest digit among the tied ones.
    """
    y = jnp.asarray(y, jnp.int32)
    preds = jnp.argmax(outputs, axis=-1)  # (K, n)
    members = jnp.mean(preds == y, axis=-1)
    votes = jnp.sum(jax.nn.one_hot(preds, outputs.shape[-1], dtype=jnp.int32), axis=0)  # (n, 10)
    vote = jnp.mean(jnp.argmax(votes, axis=-1) == y)
    mean = jnp.mean(jnp.argmax(jnp.mean(outputs, axis=0), axis=-1) == y)
    return [float(a) for a in members], float(vote), float(mean)


def fit_ensemble(
    data: Dataset,
    config: TrainConfig | None = None,
    *,
    seeds: Sequence[int] | None = None,
    lrs: Sequence[float] | None = None,
    shared_batches: bool = False,
    on_epoch: Callable[[int, EnsembleResult], None] | None = None,
    **overrides: Any,
) -> EnsembleResult:
    """Train K networks at once (``config`` with ``seed=seeds[k]``, ``lr=lrs[k]``) and report their accuracies.

    ``seeds=range(8)`` trains an 8-member ensemble; ``lrs=[0.5, 1, 3]`` a learning-rate sweep (one seed);
    both lists together pair up. A diverging member (NaN) does not stop the others; its accuracy is ~chance.
    ``shared_batches=True`` feeds every member member 0's batches: members then differ only in their start
    (and lr), and training runs several times faster on CPU. ``on_epoch(epoch, result)`` is called after every
    epoch with the result so far.
    """
    if config is not None and not isinstance(config, TrainConfig):
        raise InputError(f"config is a {type(config).__name__}; expected a TrainConfig (or None for the seed preset)")
    config = (config or PRESETS["seed"]).replace(**overrides)
    check_mnist_network(config.sizes, "config.sizes")
    if seeds is None and lrs is None:
        raise InputError("fit_ensemble needs seeds=[...] and/or lrs=[...] (one entry per member)")
    seeds, lrs = ensemble_members(config, seeds, lrs)
    n_train = int(data.x_train.shape[0])
    if config.batch_size is not None and config.batch_size > n_train:
        raise InputError(f"batch_size {config.batch_size} is larger than the {n_train} training examples")
    enable_compilation_cache()
    members = [init_state(dataclasses.replace(config, seed=s)) for s in seeds]
    states = TrainState._make([*_stack([m[:4] for m in members]), 0])
    scales = jnp.asarray([r / config.lr for r in lrs], jnp.float32)
    x, y = jax.device_put(data.x_train), jax.device_put(np.asarray(data.y_train, np.int32))

    start = time.perf_counter()
    compiled = ensemble_epoch_fn(config, n_train, shared_batches).lower(states, scales, x, y).compile()
    result = EnsembleResult(states.params, seeds, lrs, [], 0.0, 0.0, compile_seconds=time.perf_counter() - start)
    for epoch in range(config.epochs):
        start = time.perf_counter()
        states, costs = compiled(states, scales, x, y)
        costs = np.asarray(costs)  # waits for the epoch
        result.epoch_seconds.append(time.perf_counter() - start)
        result.train_cost.append([float(c) for c in costs.mean(axis=1)])
        result.params = states.params
        outputs = ensemble_predictions(states.params, data.x_test, config)
        result.member_accuracy, result.vote_accuracy, result.mean_output_accuracy = ensemble_accuracies(
            outputs, data.y_test
        )
        if on_epoch is not None:
            on_epoch(epoch + 1, result)
    return result
