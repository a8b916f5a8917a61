"""Finite-difference gradients of the jaxmlp costs, in float64: the reference that shares no code with any derivative.

``finite_differences``: ``∂C/∂θ_i ≈ (C(θ + h_i e_i) − C(θ − h_i e_i)) / 2h_i`` for every parameter, with
``h_i = ε^{1/3} max(1, |θ_i|)`` (truncation O(h²) and rounding O(ε/h) balance there, both ≈ 1e-11 relative).
``directional``: the same quotient along random unit directions ``v`` per leaf, to compare with ``g · v``.
Params in the jaxmlp layout ``[{"w": (n_in, n_out), "b": (n_out,)}]``; ``x`` ``(n, n_0)``, ``y`` ``(n,)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.costs import cost_function

LEAVES = ("w", "b")


def _iter_leaves(params: list[dict[str, Any]]) -> list[Any]:
    return [layer[name] for layer in params for name in LEAVES]


def _flat_cost(
    params: list[dict[str, np.ndarray]], x: np.ndarray, y: np.ndarray, **kwargs: Any
) -> tuple[Callable[[Any], jax.Array], np.ndarray, np.ndarray]:
    """The cost as a function of one float64 vector θ of all parameters (leaf order: layer 1 w, b, layer 2 w, ...).

    Call with 64-bit JAX switched on.
    """
    shapes = [leaf.shape for leaf in _iter_leaves(params)]
    offsets = np.cumsum([0, *(leaf.size for leaf in _iter_leaves(params))])
    cost_fn = cost_function(**kwargs)
    xj, yj = jnp.asarray(x, jnp.float64), jnp.asarray(y)

    def f(theta: jax.Array) -> jax.Array:
        leaves = [theta[offsets[i] : offsets[i + 1]].reshape(shape) for i, shape in enumerate(shapes)]
        return cost_fn([{"w": w, "b": b} for w, b in zip(leaves[::2], leaves[1::2], strict=True)], xj, yj)

    theta = np.concatenate([np.asarray(leaf, np.float64).ravel() for leaf in _iter_leaves(params)])
    return f, theta, offsets


def finite_differences(params: list[dict[str, np.ndarray]], x: np.ndarray, y: np.ndarray, **kwargs: Any) -> list:
    """Central differences for every parameter, in the params layout (float64)."""
    with jax.enable_x64(True):
        f, theta, offsets = _flat_cost(params, x, y, **kwargs)
        h = np.cbrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(theta))
        h = (theta + h) - theta  # a step that is exactly representable

        @jax.jit
        def partials(idx: jax.Array, h_idx: jax.Array) -> jax.Array:
            def one(i: jax.Array, step: jax.Array) -> jax.Array:
                e = jnp.zeros_like(theta).at[i].set(step)
                return (f(theta + e) - f(theta - e)) / (2 * step)

            return jax.vmap(one)(idx, h_idx)

        rows = 512  # parameters perturbed per batched evaluation: 512 copies of θ (13,002 float64) is 53 MB
        grad_flat = np.empty_like(theta)
        for start in range(0, theta.size, rows):
            idx = np.arange(start, start + rows) % theta.size  # the last chunk wraps around: same shape, no recompile
            grad_flat[idx] = np.asarray(partials(jnp.asarray(idx), jnp.asarray(h[idx])))
    leaves = [grad_flat[offsets[i] : offsets[i + 1]].reshape(leaf.shape) for i, leaf in enumerate(_iter_leaves(params))]
    return [{"w": w, "b": b} for w, b in zip(leaves[::2], leaves[1::2], strict=True)]


def directional(
    params: list[dict[str, np.ndarray]], x: np.ndarray, y: np.ndarray, directions: int, seed: int, **kwargs: Any
) -> tuple[dict[tuple[int, str], np.ndarray], dict[tuple[int, str], np.ndarray]]:
    """Per leaf, ``directions`` slopes ``(C(θ + hv) − C(θ − hv)) / 2h`` along random unit ``v`` (seeded), and the
    ``v`` as rows ``(directions, leaf size)``: compare ``v @ g.ravel()`` with the slopes."""
    rng = np.random.default_rng(seed)
    keys = [(layer, name) for layer in range(1, len(params) + 1) for name in LEAVES]
    with jax.enable_x64(True):
        f, theta, offsets = _flat_cost(params, x, y, **kwargs)
        h = np.cbrt(np.finfo(np.float64).eps) * max(1.0, float(np.abs(theta).max()))
        vs = np.zeros((len(keys), directions, theta.size))  # directions for leaf i are zero outside that leaf
        for i in range(len(keys)):
            v = rng.standard_normal((directions, offsets[i + 1] - offsets[i]))
            vs[i, :, offsets[i] : offsets[i + 1]] = v / np.linalg.norm(v, axis=1, keepdims=True)
        steps = jnp.asarray(h * vs.reshape(-1, theta.size))
        slopes = np.asarray(jax.jit(jax.vmap(lambda s: f(theta + s) - f(theta - s)))(steps)) / (2 * h)
    per_leaf = {key: slopes[i * directions : (i + 1) * directions] for i, key in enumerate(keys)}
    return per_leaf, {key: vs[i, :, offsets[i] : offsets[i + 1]] for i, key in enumerate(keys)}
