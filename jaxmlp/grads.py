"""Gradients of the jaxmlp costs by automatic differentiation: batch-averaged and per example.

Activations, outputs and costs are given by name (keys of ``ACTIVATIONS``, ``OUTPUTS``, ``COSTS``).
Gradients come back in the params layout ``[{"w": (n_in, n_out), "b": (n_out,)}, ...]``.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from jaxmlp.costs import CostName, cost_function
from jaxmlp.model import ActivationName, AnyArray, OutputName, Params, ParamsLike


def grad(
    params: ParamsLike,
    x: AnyArray,
    y: AnyArray,
    *,
    cost: CostName = "quadratic",
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
) -> Params:
    """``∂C/∂θ`` of the batch cost ``C = mean_x C_x`` for ``x`` (n, n_0) and labels ``y`` (n,)."""
    return jax.grad(cost_function(cost, activation=activation, output=output))(params, x, y)


def per_example_grads(
    params: ParamsLike,
    x: AnyArray,
    y: AnyArray,
    *,
    cost: CostName = "quadratic",
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
) -> Params:
    """Each example's gradient ``∂C_x/∂θ``: ``jax.vmap(jax.grad(C), in_axes=(None, 0, 0))`` over single examples.

    For ``x`` (n, n_0) and ``y`` (n,), the leaves gain a leading batch axis: ``w`` (n, n_in, n_out), ``b`` (n, n_out).
    Their mean over that axis is ``grad(params, x, y)``.
    """
    cost_fn = cost_function(cost, activation=activation, output=output)
    return jax.vmap(jax.grad(cost_fn), in_axes=(None, 0, 0))(params, x, y)


def tree_relative_error(got: object, want: object) -> float:
    """``‖got − want‖ / max(‖want‖, tiny)`` over all leaves of two pytrees of one structure (float64 Frobenius norms).

    The package's one relative-error helper: the gradient checker, benchmarks, notebooks and tests all use it.
    """
    got_leaves, want_leaves = jax.tree.leaves(got), jax.tree.leaves(want)
    if len(got_leaves) != len(want_leaves):
        raise ValueError(f"the trees have {len(got_leaves)} and {len(want_leaves)} leaves; expected one structure")
    diff = norm = 0.0
    for g, w in zip(got_leaves, want_leaves, strict=True):
        w64 = np.asarray(w, np.float64)
        diff += float(np.sum((np.asarray(g, np.float64) - w64) ** 2))
        norm += float(np.sum(w64**2))
    return math.sqrt(diff) / max(math.sqrt(norm), float(np.finfo(np.float64).tiny))
