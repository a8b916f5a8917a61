"""The network itself: shapes, parameter count, initialisation, and the forward pass against NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxmlp


def numpy_forward(params, x):
    """The seed's network written directly: a' = sigmoid(a @ w + b) for every layer."""
    a = np.asarray(x, np.float64)
    for layer in params:
        a = 1.0 / (1.0 + np.exp(-(a @ np.asarray(layer["w"], np.float64) + np.asarray(layer["b"], np.float64))))
    return a


def test_seed_network_has_13002_weights_and_biases():
    params = jaxmlp.init_params(jax.random.key(0))
    assert jaxmlp.num_params(params) == 784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10 == 13_002
    assert [(layer["w"].shape, layer["b"].shape) for layer in params] == [
        ((784, 16), (16,)),
        ((16, 16), (16,)),
        ((16, 10), (10,)),
    ]
    assert jaxmlp.layer_sizes(params) == (784, 16, 16, 10)


@pytest.mark.parametrize(
    ("init", "weight_std", "bias_std"), [("normal", 1.0, 1.0), ("lecun", 784**-0.5, 0.0), ("he", (2 / 784) ** 0.5, 0.0)]
)
def test_initial_weights_have_the_documented_spread(init, weight_std, bias_std):
    params = jaxmlp.init_params(jax.random.key(1), (784, 400, 10), init=init)
    w, b = np.asarray(params[0]["w"]), np.asarray(params[0]["b"])
    assert abs(w.mean()) < 0.02 * weight_std
    assert w.std() == pytest.approx(weight_std, rel=0.02)
    assert b.std() == pytest.approx(bias_std, abs=0.15)


def test_same_key_gives_identical_params_and_another_key_differs():
    a, b = jaxmlp.init_params(jax.random.key(7)), jaxmlp.init_params(jax.random.key(7))
    c = jaxmlp.init_params(jax.random.key(8))
    assert all(np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))
    assert not np.array_equal(a[0]["w"], c[0]["w"])


def test_forward_matches_the_formula_in_numpy():
    params = jaxmlp.init_params(jax.random.key(2))
    x = jax.random.uniform(jax.random.key(3), (5, 784))
    np.testing.assert_allclose(jaxmlp.forward(params, x), numpy_forward(params, x), rtol=1e-5, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 2**16), data=st.data())
def test_one_image_gives_the_same_output_as_its_row_in_a_batch(n, seed, data):
    params = jaxmlp.init_params(jax.random.key(seed), init="lecun")
    x = jax.random.uniform(jax.random.key(seed + 1), (n, 784))
    i = data.draw(st.integers(0, n - 1))
    batch_out = jaxmlp.forward(params, x, activation="relu", output="softmax")
    single_out = jaxmlp.forward(params, x[i], activation="relu", output="softmax")
    assert single_out.shape == (10,)
    np.testing.assert_allclose(single_out, batch_out[i], rtol=1e-5, atol=1e-7)


def test_predict_is_the_brightest_output_and_accuracy_counts_matches():
    params = jaxmlp.init_params(jax.random.key(4))
    x = jax.random.uniform(jax.random.key(5), (50, 784))
    outputs = np.asarray(jaxmlp.forward(params, x))
    predicted = np.asarray(jaxmlp.predict(params, x))
    assert np.array_equal(predicted, outputs.argmax(axis=1))
    labels = predicted.copy()
    labels[:10] = (labels[:10] + 1) % 10  # make exactly 10 of 50 wrong
    assert float(jaxmlp.accuracy(params, x, labels)) == pytest.approx(0.8)


def test_softmax_output_is_a_probability_distribution():
    params = jaxmlp.init_params(jax.random.key(6))
    p = jaxmlp.forward(params, jnp.ones((3, 784)) * 0.5, output="softmax")
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert bool(jnp.all(p > 0))
