"""BENCHMARK ONLY: jaxmlp/epoch.py as it was at commit 731d415 (the "before" of issue #16), unchanged below.

Imported by benchmarks/bench_train.py to time the old epoch in the same process as the new one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from jaxmlp.config import TrainConfig
from jaxmlp.costs import cost_function
from jaxmlp.model import Params, init_params
from jaxmlp.parallel import constrain_batch
from jaxmlp.validate import IMAGE_SIDE, NUM_PIXELS, to_float


class TrainState(NamedTuple):
    """What training carries from one epoch to the next (everything needed to resume exactly)."""

    params: Params
    opt_state: Any
    step: jax.Array
    key: jax.Array
    epoch: int


def learning_rate(config: TrainConfig, steps_per_epoch: int) -> optax.Schedule:
    """The learning rate as a function of the step: constant, cosine decay, or 1-epoch warm-up then cosine."""
    total = config.epochs * steps_per_epoch
    if config.schedule == "cosine":
        return optax.cosine_decay_schedule(config.lr, total)
    if config.schedule == "warmup-cosine":
        warmup = min(steps_per_epoch, total // 2)
        return optax.warmup_cosine_decay_schedule(0.0, config.lr, warmup, total)
    return optax.constant_schedule(config.lr)


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    """The optax optimizer of ``config``. ``"gd"`` keeps no state: its update is ``plain_rule``, written out."""
    lr = learning_rate(config, steps_per_epoch)
    if config.optimizer == "gd":
        return optax.identity()
    if config.optimizer == "momentum":
        return optax.sgd(lr, momentum=0.9)
    if config.optimizer == "adam":
        return optax.adam(lr)
    return optax.adamw(lr, weight_decay=config.weight_decay)


def plain_rule(params: Params, grads: Params, lr: float | jax.Array) -> Params:
    """The seed's update rule, ``p <- p - lr * dC/dp`` for every weight and bias (the package's one copy)."""
    return jax.tree.map(lambda p, g: p - lr * g, params, grads)


def gradient_descent_step(
    params: Params, x: jax.Array, y: jax.Array, lr: float | jax.Array, config: TrainConfig
) -> Params:
    """One step of the plain rule on ``config``'s cost for float images ``x`` ``(n, 784)`` and labels ``y`` ``(n,)``."""
    return plain_rule(params, jax.grad(training_cost(config))(params, x, y), lr)


def training_cost(config: TrainConfig) -> Callable[[Params, jax.Array, jax.Array], jax.Array]:
    """The cost minimised during training: ``config.cost`` with its activation, output and label smoothing."""
    return cost_function(
        config.cost, activation=config.activation, output=config.output, label_smoothing=config.label_smoothing
    )


def init_state(config: TrainConfig, params: Params | None = None) -> TrainState:
    """The starting state: random params from ``config.seed`` (unless given) and a fresh optimizer."""
    init_key, train_key = jax.random.split(jax.random.key(config.seed))
    if params is None:
        params = init_params(init_key, config.sizes, init=config.init)
    opt_state = make_optimizer(config, 1).init(params)
    return TrainState(params, opt_state, jnp.zeros((), jnp.int32), train_key, 0)


def random_shift(key: jax.Array, images: jax.Array, max_shift: int) -> jax.Array:
    """Each ``(n, 784)`` image moved by its own random offset in ``[-max_shift, max_shift]`` pixels, zero-filled."""
    n, side = images.shape[0], IMAGE_SIDE
    offsets = jax.random.randint(key, (n, 2), 0, 2 * max_shift + 1) - max_shift
    # Output pixel (r, c) comes from (r + dr, c + dc) of the same image, or is 0 when that falls outside: one
    # elementwise gather, about 2x faster on CPU than padding and a vmapped dynamic_slice (same offsets, same output).
    rows = jnp.arange(side)[None, :, None] + offsets[:, 0, None, None]
    cols = jnp.arange(side)[None, None, :] + offsets[:, 1, None, None]
    inside = ((rows >= 0) & (rows < side) & (cols >= 0) & (cols < side)).reshape(n, NUM_PIXELS)
    source = (jnp.clip(rows, 0, side - 1) * side + jnp.clip(cols, 0, side - 1)).reshape(n, NUM_PIXELS)
    return jnp.where(inside, jnp.take_along_axis(images, source, axis=1), 0).astype(images.dtype)


class EpochParts(NamedTuple):
    """The pieces of one training epoch, shared by ``fit`` and ``jaxmlp.ensemble`` so both run the same steps.

    ``order(key) -> (key, indices (steps, batch))``: a fresh shuffle; the last ``n_train % batch`` examples are
    skipped, so every step has the same shape (no recompilation for a ragged batch).
    ``next_batch(key, indices, x, y) -> (key, xf (batch, 784) float32 in [0, 1], yb)``: gather (and shift).
    ``update(params, opt_state, step, lr_scale, xf, yb) -> (params, opt_state, cost)``: one step, its size
    multiplied by ``lr_scale`` (1 for ``fit``; a member's ``lr / config.lr`` in an ensemble).
    """

    steps: int
    batch: int
    order: Callable[..., Any]
    next_batch: Callable[..., Any]
    update: Callable[..., Any]


def epoch_parts(config: TrainConfig, n_train: int, mesh: Mesh | None = None) -> EpochParts:
    """The shuffle, batch and update functions of ``config``'s epoch over ``n_train`` examples (see ``EpochParts``).

    With a ``mesh``, each batch is split along its ``data`` axis (params replicated), and ``jit`` inserts the
    gradient all-reduce.
    """
    batch = config.batch_size or n_train
    steps = n_train // batch
    cost_fn = training_cost(config)
    optimizer = make_optimizer(config, steps)
    lr = learning_rate(config, steps)

    def order(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        key, perm_key = jax.random.split(key)
        # A uniformly random order: sort the indices by 64 random bits each (two uint32 sort keys). One sort instead
        # of jax.random.permutation's two 32-bit rounds: ~8 ms less per epoch on the 2-core CPU, ties still ~1e-10.
        high, low = jax.random.bits(perm_key, (2, n_train))
        permutation = jax.lax.sort((high, low, jnp.arange(n_train, dtype=jnp.int32)), num_keys=2)[2]
        return key, permutation[: steps * batch].reshape(steps, batch)

    def next_batch(key: jax.Array, indices: jax.Array, x: jax.Array, y: jax.Array) -> tuple[jax.Array, ...]:
        key, shift_key = jax.random.split(key)
        xb, yb = (x[indices], y[indices]) if batch < n_train else (x, y)
        xb, yb = constrain_batch((xb, yb), mesh)
        if config.shift:
            xb = random_shift(shift_key, xb, config.shift)
        return key, to_float(xb), yb

    def update(params: Params, opt_state: Any, step: jax.Array, lr_scale: Any, xf: jax.Array, yb: jax.Array):
        cost, grads = jax.value_and_grad(cost_fn)(params, xf, yb)
        if config.optimizer == "gd":
            return plain_rule(params, grads, lr_scale * lr(step)), opt_state, cost
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, jax.tree.map(lambda u: lr_scale * u, updates)), opt_state, cost

    return EpochParts(steps, batch, order, next_batch, update)


def epoch_body(config: TrainConfig, n_train: int, mesh: Mesh | None = None) -> Callable[..., Any]:
    """``epoch(state, lr_scale, x, y) -> (state, step_costs (steps,))``: one shuffled pass as one ``lax.scan``.

    ``x`` is the whole uint8 training set on the device; each step gathers its batch by index, so the data is
    never copied. Not jitted: ``compiled_epoch`` jits it with ``lr_scale=1``, ``jaxmlp.ensemble`` vmaps it.
    """
    parts = epoch_parts(config, n_train, mesh)

    def epoch(state: TrainState, lr_scale: Any, x: jax.Array, y: jax.Array) -> tuple[TrainState, jax.Array]:
        def step_fn(carry, indices):
            params, opt_state, step, key = carry
            key, xf, yb = parts.next_batch(key, indices, x, y)
            params, opt_state, cost = parts.update(params, opt_state, step, lr_scale, xf, yb)
            return (params, opt_state, step + 1, key), cost

        key, order = parts.order(state.key)
        (params, opt_state, step, key), costs = jax.lax.scan(
            step_fn, (state.params, state.opt_state, state.step, key), order
        )
        return TrainState(params, opt_state, step, key, state.epoch), costs

    return epoch


@functools.lru_cache(maxsize=32)
def compiled_epoch(config: TrainConfig, n_train: int, mesh: Mesh | None = None) -> Callable[..., Any]:
    """``epoch(state, x, y) -> (state, step_costs (steps,))``, jitted: what ``fit`` runs once per epoch.

    ``x`` is ``(n_train, 784)`` uint8 and ``y`` ``(n_train,)`` int32, both already on the device. Call
    ``.lower(state, x, y).compile()`` on it to compile ahead of time (and time the compile apart).
    """
    epoch = epoch_body(config, n_train, mesh)
    return jax.jit(lambda state, x, y: epoch(state, 1.0, x, y))
