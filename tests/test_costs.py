"""The costs against explicit NumPy evaluations of their formulas, and one descent step lowering them."""

import jax
import numpy as np
import pytest

import jaxmlp
from jaxmlp.config import PRESETS
from jaxmlp.epoch import gradient_descent_step


@pytest.fixture
def batch():
    params = jaxmlp.init_params(jax.random.key(0))
    x = np.asarray(jax.random.uniform(jax.random.key(1), (8, 784)))
    y = np.array([3, 0, 9, 1, 4, 4, 7, 2])
    return params, x, y


def outputs_and_targets(params, x, y, output):
    a = np.asarray(jaxmlp.forward(params, x, output=output), np.float64)
    t = np.zeros_like(a)
    t[np.arange(len(y)), y] = 1.0
    return a, t


def test_quadratic_cost_is_the_seed_formula(batch):
    params, x, y = batch
    a, t = outputs_and_targets(params, x, y, "sigmoid")
    per_example = [sum((a[n, j] - t[n, j]) ** 2 for j in range(10)) for n in range(len(y))]  # no 1/2
    assert float(jaxmlp.quadratic_cost(params, x, y)) == pytest.approx(np.mean(per_example), rel=1e-5)


def test_cross_entropy_with_softmax_is_the_log_likelihood(batch):
    params, x, y = batch
    p, _ = outputs_and_targets(params, x, y, "softmax")
    expected = -np.mean(np.log(p[np.arange(len(y)), y]))
    assert float(jaxmlp.cross_entropy_cost(params, x, y, output="softmax")) == pytest.approx(expected, rel=1e-5)


def test_cross_entropy_with_sigmoid_is_nielsens_binary_form(batch):
    params, x, y = batch
    a, t = outputs_and_targets(params, x, y, "sigmoid")
    expected = np.mean(np.sum(-(t * np.log(a) + (1 - t) * np.log(1 - a)), axis=1))
    assert float(jaxmlp.cross_entropy_cost(params, x, y, output="sigmoid")) == pytest.approx(expected, rel=1e-5)


def test_a_perfect_network_has_zero_quadratic_cost():
    # Huge weights from a one-hot input make each output saturate exactly at its target.
    params = [{"w": np.eye(10, dtype=np.float32) * 200 - 100, "b": np.zeros(10, np.float32)}]
    y = np.arange(10)
    assert float(jaxmlp.quadratic_cost(params, np.eye(10, dtype=np.float32), y)) == pytest.approx(0.0, abs=1e-12)


def test_one_gradient_descent_step_lowers_the_cost(batch):
    params, x, y = batch
    before = float(jaxmlp.quadratic_cost(params, x, y))
    after = float(jaxmlp.quadratic_cost(gradient_descent_step(params, x, y, 0.5, PRESETS["seed"]), x, y))
    assert after < before


def test_label_smoothed_cross_entropy_equals_optax_on_smoothed_targets(batch):
    import optax

    params, x, y = batch
    z = jaxmlp.forward(params, x, output="identity")
    targets = optax.smooth_labels(jax.nn.one_hot(y, 10), 0.1)
    expected = float(np.mean(optax.softmax_cross_entropy(z, targets)))
    got = float(jaxmlp.cross_entropy_cost(params, x, y, output="softmax", label_smoothing=0.1))
    assert got == pytest.approx(expected, rel=1e-5)


def test_costs_refuse_labels_outside_the_output_layer(batch):
    params, x, _ = batch
    bad = np.array([3, 0, 9, 1, 4, 4, 7, 10])
    for cost in (jaxmlp.quadratic_cost, jaxmlp.cross_entropy_cost):
        with pytest.raises(jaxmlp.InputError, match=r"y has label 10 at index 7; expected integers 0\.\.9"):
            cost(params, x, bad)
