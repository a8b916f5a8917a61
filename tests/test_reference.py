"""The NumPy backpropagation in jaxmlp.reference agrees with jax.grad of the jaxmlp costs."""

import ast
import inspect
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxmlp import reference
from jaxmlp.grads import grad, per_example_grads

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def make_params(sizes, dtype, seed=0, scale=None):
    """Random params; ``scale=None`` gives weights ~ N(0, 1/n_in) (well-conditioned), else N(0, scale²)."""
    rng = np.random.default_rng(seed)
    return [
        {
            "w": (rng.standard_normal((m, n)) * (scale or 1 / np.sqrt(m))).astype(dtype),
            "b": (rng.standard_normal(n) * (scale or 1)).astype(dtype),
        }
        for m, n in itertools.pairwise(sizes)
    ]


def make_batch(n, n_in, n_out, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, n_out, n)


def jax_grad(params, x, y, per_example=False, **kwargs):
    """jax.grad in the params' dtype (64-bit JAX switched on only here), full-precision matmuls."""
    dtype = params[0]["w"].dtype
    with jax.enable_x64(dtype == np.float64), jax.default_matmul_precision("highest"):
        fn = per_example_grads if per_example else grad
        out = fn(jax.tree.map(jnp.asarray, params), jnp.asarray(x, dtype), jnp.asarray(y), **kwargs)
        return jax.tree.map(np.asarray, out)


def relative_errors(got, want):
    return [
        np.linalg.norm(g[k].astype(np.float64) - w[k]) / max(np.linalg.norm(w[k]), 1e-300)
        for g, w in zip(got, want, strict=True)
        for k in ("w", "b")
    ]


def test_reference_does_not_import_jax():
    tree = ast.parse(inspect.getsource(reference))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert "numpy" in imported
    assert not [name for name in imported if name.split(".")[0] in ("jax", "jaxlib", "jaxmlp")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy"])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
def test_backprop_matches_jax_grad(activation, output, cost, dtype):
    params = make_params((30, 12, 9, 10), dtype)
    x, y = make_batch(7, 30, 10)
    kwargs = {"activation": activation, "output": output, "cost": cost}
    got = reference.backprop(params, x, y, **kwargs)
    want = jax_grad(params, x, y, **kwargs)
    assert all(leaf.dtype == dtype for layer in got for leaf in layer.values())
    assert max(relative_errors(got, want)) <= TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backprop_matches_jax_on_the_seed_network(dtype):
    """784-16-16-10 with Nielsen's N(0, 1) start and sparse, MNIST-like pixels."""
    params = make_params((784, 16, 16, 10), dtype, scale=1.0)
    x, y = make_batch(16, 784, 10)
    x = np.where(x > 0.8, x, 0.0)  # mostly black, like MNIST
    errors = relative_errors(reference.backprop(params, x, y), jax_grad(params, x, y))
    assert max(errors) <= TOLERANCE[dtype]


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(2, 9), min_size=2, max_size=5),
    n=st.integers(1, 6),
    activation=st.sampled_from(["sigmoid", "relu", "tanh"]),
    output=st.sampled_from(["sigmoid", "softmax"]),
    cost=st.sampled_from(["quadratic", "cross-entropy"]),
    seed=st.integers(0, 2**16),
)
def test_backprop_matches_jax_for_random_layer_sizes(sizes, n, activation, output, cost, seed):
    params = make_params(sizes, np.float64, seed)
    x, y = make_batch(n, sizes[0], sizes[-1], seed + 1)
    kwargs = {"activation": activation, "output": output, "cost": cost}
    got, want = reference.backprop(params, x, y, **kwargs), jax_grad(params, x, y, **kwargs)
    for g, w in zip(got, want, strict=True):
        for k in ("w", "b"):
            assert g[k].shape == w[k].shape
            # relative to the whole leaf, with a floor for leaves that are (nearly) zero in exact arithmetic
            assert np.linalg.norm(g[k] - w[k]) <= 1e-12 * np.linalg.norm(w[k]) + 1e-15


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("output", "cost"), [("sigmoid", "quadratic"), ("softmax", "cross-entropy")])
def test_per_example_backprop_matches_vmapped_jax_grad(output, cost, dtype):
    params = make_params((20, 8, 6, 10), dtype)
    x, y = make_batch(5, 20, 10)
    kwargs = {"activation": "tanh", "output": output, "cost": cost}
    got = reference.per_example_backprop(params, x, y, **kwargs)
    want = jax_grad(params, x, y, per_example=True, **kwargs)
    assert [layer["w"].shape for layer in got] == [(5, 20, 8), (5, 8, 6), (5, 6, 10)]
    for i in range(len(x)):
        one = [{k: layer[k][i] for k in layer} for layer in got]
        assert max(relative_errors(one, [{k: layer[k][i] for k in layer} for layer in want])) <= TOLERANCE[dtype]


def test_per_example_gradients_average_to_the_batch_gradient():
    params = make_params((10, 5, 4), np.float64)
    x, y = make_batch(6, 10, 4)
    per_example = reference.per_example_backprop(params, x, y, output="softmax")
    batch = reference.backprop(params, x, y, output="softmax")
    for p, b in zip(per_example, batch, strict=True):
        np.testing.assert_allclose(p["w"].mean(axis=0), b["w"], rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(p["b"].mean(axis=0), b["b"], rtol=1e-13, atol=1e-16)


def test_quadratic_cost_gradient_carries_the_factor_two():
    """One output neuron, identity output, no hidden layer: C = mean (x w + b - t)², so ∂C/∂b = 2 mean(x w + b - t)."""
    params = [{"w": np.array([[0.5]]), "b": np.array([0.25])}]
    x, y = np.array([[1.0], [3.0]]), np.array([0, 0])  # one-hot target of a single class is always 1
    g = reference.backprop(params, x, y, output="identity")
    residual = x[:, 0] * 0.5 + 0.25 - 1.0
    assert g[0]["b"][0] == pytest.approx(2 * residual.mean())
    assert g[0]["w"][0, 0] == pytest.approx(2 * (residual * x[:, 0]).mean())


def test_unknown_names_are_rejected():
    params = make_params((4, 3), np.float64)
    x, y = make_batch(2, 4, 3)
    with pytest.raises(ValueError, match="activation must be one of"):
        reference.backprop(params, x, y, activation="swish")
    with pytest.raises(ValueError, match="cross-entropy needs"):
        reference.backprop(params, x, y, output="identity", cost="cross-entropy")
