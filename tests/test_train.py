"""Training: the scanned epoch against the plain rule, reproducibility, the history, and real accuracy."""

import dataclasses

import jax
import numpy as np
import pytest
from helpers import mnist_slice

import jaxmlp
from jaxmlp.config import PRESETS, TrainConfig
from jaxmlp.epoch import gradient_descent_step, init_state


@pytest.fixture(scope="module")
def small(mnist):
    """The first 1,000 training and 500 test images of real MNIST."""
    return mnist_slice(mnist, 1000, 500)


def leaves(params):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(params)]


def test_full_batch_epoch_is_one_step_of_the_plain_rule_on_every_example(small):
    config = TrainConfig(batch_size=None, epochs=1, lr=2.0, shift=0)
    trained, _ = jaxmlp.fit(small, config)
    start = init_state(config).params
    expected = gradient_descent_step(start, jaxmlp.to_float(small.x_train), small.y_train, 2.0, config)
    for got, want in zip(leaves(trained), leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_same_seed_gives_identical_params_and_another_seed_does_not(small):
    config = TrainConfig(batch_size=50, epochs=2, lr=1.0, shift=1)
    a, _ = jaxmlp.fit(small, config)
    b, _ = jaxmlp.fit(small, config)
    c, _ = jaxmlp.fit(small, config, seed=1)
    assert all(np.array_equal(u, v) for u, v in zip(leaves(a), leaves(b), strict=True))
    assert not np.array_equal(leaves(a)[0], leaves(c)[0])


@pytest.mark.parametrize("preset", ["seed", "best"])
def test_history_records_every_epoch_and_the_cost_falls(small, preset):
    config = dataclasses.replace(PRESETS[preset], epochs=4, batch_size=20)
    seen = []
    _, history = jaxmlp.fit(small, config, on_epoch=lambda state, h: seen.append(state.epoch))
    assert seen == [1, 2, 3, 4]
    assert len(history.test_accuracy) == len(history.test_cost) == len(history.epoch_seconds) == 4
    assert history.train_cost[-1] < history.train_cost[0]
    assert history.compile_seconds > 0
    assert history.examples_per_epoch == 1000
    assert history.examples_per_second > 0


def test_a_ragged_last_batch_is_skipped_and_does_not_recompile(small):
    _, history = jaxmlp.fit(small, batch_size=300, epochs=2, shift=0)
    assert history.examples_per_epoch == 900


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam", "adamw"])
def test_every_optax_optimizer_lowers_the_cost(small, optimizer):
    lr = 0.05 if optimizer.startswith("adam") else 1.0
    _, history = jaxmlp.fit(small, optimizer=optimizer, lr=lr, batch_size=20, epochs=3, shift=0)
    assert history.train_cost[-1] < history.train_cost[0]


def test_resuming_from_an_epoch_state_equals_training_straight_through(small):
    config = TrainConfig(batch_size=50, epochs=3, lr=1.0, schedule="cosine")
    states = []
    straight, _ = jaxmlp.fit(small, config, on_epoch=lambda state, h: states.append(state))
    resumed, history = jaxmlp.fit(small, config, state=states[0])
    assert len(history.epoch_seconds) == 2
    assert all(np.array_equal(u, v) for u, v in zip(leaves(straight), leaves(resumed), strict=True))


@pytest.mark.slow
def test_bounded_training_on_real_mnist_beats_90_percent(mnist):
    params, history = jaxmlp.fit(mnist, PRESETS["best"], epochs=3)
    assert history.test_accuracy[-1] > 0.90
    _, accuracy = jaxmlp.evaluate(params, mnist.x_test, mnist.y_test, PRESETS["best"])
    assert accuracy == pytest.approx(history.test_accuracy[-1])
