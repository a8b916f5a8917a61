"""The compiled epoch equals a straightforward batch-major epoch written here, step for step, to float32 rounding.

The epoch runs its weights feature-major ``(n_out, n_in)`` for speed (``jaxmlp.epoch.epoch_parts``); the reference
below is the textbook form: the public batch-major params, ``jax.grad`` of ``training_cost``, then the plain rule
or optax, in the same shuffle order and with the same per-step keys.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp.config import TrainConfig
from jaxmlp.epoch import (
    TrainState,
    compiled_epoch,
    epoch_parts,
    flip_weights,
    init_state,
    learning_rate,
    make_optimizer,
    random_shift,
    training_cost,
)
from jaxmlp.grads import tree_relative_error

N_TRAIN, BATCH = 256, 32
PLAIN = TrainConfig(lr=3.0, batch_size=BATCH, shift=0, schedule="constant", epochs=2)  # the benchmarks' network


@pytest.fixture(scope="module")
def data() -> tuple[jax.Array, jax.Array]:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (N_TRAIN, 784), dtype=np.uint8)
    return jnp.asarray(x), jnp.asarray(rng.integers(0, 10, N_TRAIN), jnp.int32)


def reference_epoch(config: TrainConfig, state: TrainState, x: jax.Array, y: jax.Array) -> tuple[TrainState, list]:
    """One epoch the obvious way, batch-major, one Python step at a time (no scan, no layout change)."""
    steps = N_TRAIN // BATCH
    key, order = epoch_parts(config, N_TRAIN).order(state.key)  # the shuffle itself is not under test here
    grad_fn = jax.jit(jax.value_and_grad(training_cost(config)))
    optimizer, lr = make_optimizer(config, steps), learning_rate(config, steps)
    params, opt_state, step, costs = state.params, state.opt_state, state.step, []
    for indices in order:
        key, shift_key = jax.random.split(key)
        xb = x[indices]
        if config.shift:
            xb = random_shift(shift_key, xb, config.shift)
        cost, grads = grad_fn(params, xb.astype(jnp.float32) / 255, y[indices])
        if config.optimizer == "gd":
            rate = lr(step)
            params = jax.tree.map(lambda p, g, rate=rate: p - rate * g, params, grads)
        else:
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
        step, costs = step + 1, [*costs, cost]
    return TrainState(params, opt_state, step, key, state.epoch), costs


@pytest.mark.parametrize(
    "config",
    [
        PLAIN,
        dataclasses.replace(jaxmlp.PRESETS["seed"], batch_size=BATCH),
        jaxmlp.PRESETS["best"].replace(batch_size=BATCH),
    ],
    ids=["plain-gd", "seed-preset", "best-preset"],
)
def test_epoch_equals_a_straightforward_reference_epoch(data, config):
    x, y = data
    state = init_state(config)
    epoch = compiled_epoch(config, N_TRAIN)
    want = state
    for _ in range(2):  # two epochs: the state handed from one epoch to the next is in the public layout
        state, costs = epoch(state, x, y)
        want, want_costs = reference_epoch(config, want, x, y)
        assert tree_relative_error(state.params, want.params) < 1e-5
        assert tree_relative_error(state.opt_state, want.opt_state) < 1e-5
        np.testing.assert_allclose(np.asarray(costs), np.asarray(want_costs), rtol=1e-5)
        assert int(state.step) == int(want.step)
        np.testing.assert_array_equal(jax.random.key_data(state.key), jax.random.key_data(want.key))  # same stream
    assert state.params[0]["w"].shape == (784, 16)


def test_flip_weights_swaps_every_w_and_is_its_own_inverse():
    config = jaxmlp.PRESETS["best"]
    state = init_state(config)
    tree = (state.params, state.opt_state)
    flipped = flip_weights(tree, state.params)
    assert [layer["w"].shape for layer in flipped[0]] == [(16, 784), (16, 16), (10, 16)]
    assert flipped[1][0].mu[0]["w"].shape == (16, 784)  # AdamW's moments follow the params' layout
    assert jax.tree.structure(flip_weights(flipped, state.params)) == jax.tree.structure(tree)
    assert tree_relative_error(flip_weights(flipped, state.params), tree) == 0.0
    stacked = jax.tree.map(lambda a: jnp.stack([a, a]), state.params)  # ensemble members: (K, n_in, n_out)
    assert flip_weights(stacked, stacked)[0]["w"].shape == (2, 16, 784)
