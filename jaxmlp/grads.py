"""Gradients of the jaxmlp costs by automatic differentiation: batch-averaged and per example.

Activations, outputs and costs are given by name (keys of ``ACTIVATIONS``, ``OUTPUTS``, ``COSTS``) or as the
functions themselves. Gradients come back in the params layout ``[{"w": (n_in, n_out), "b": (n_out,)}, ...]``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax

from jaxmlp.costs import COSTS
from jaxmlp.model import ACTIVATIONS, OUTPUTS, Params


def cost_function(
    cost: str | Callable = "quadratic", *, activation: str | Callable = "sigmoid", output: str | Callable = "sigmoid"
) -> Callable[[Params, jax.Array, jax.Array], jax.Array]:
    """The cost ``C(params, x, y)`` with the given hidden activation and output layer filled in."""
    cost_fn = _lookup(COSTS, cost, "cost")
    kwargs = {
        "activation": _lookup(ACTIVATIONS, activation, "activation"),
        "output": _lookup(OUTPUTS, output, "output"),
    }
    return functools.partial(cost_fn, **kwargs)


def grad(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    cost: str | Callable = "quadratic",
    activation: str | Callable = "sigmoid",
    output: str | Callable = "sigmoid",
) -> Params:
    """``∂C/∂θ`` of the batch cost ``C = mean_x C_x`` for ``x`` (n, n_0) and labels ``y`` (n,)."""
    return jax.grad(cost_function(cost, activation=activation, output=output))(params, x, y)


def per_example_grads(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    cost: str | Callable = "quadratic",
    activation: str | Callable = "sigmoid",
    output: str | Callable = "sigmoid",
) -> Params:
    """Each example's gradient ``∂C_x/∂θ``: ``jax.vmap(jax.grad(C), in_axes=(None, 0, 0))`` over single examples.

    For ``x`` (n, n_0) and ``y`` (n,), the leaves gain a leading batch axis: ``w`` (n, n_in, n_out), ``b`` (n, n_out).
    Their mean over that axis is ``grad(params, x, y)``.
    """
    cost_fn = cost_function(cost, activation=activation, output=output)
    return jax.vmap(jax.grad(cost_fn), in_axes=(None, 0, 0))(params, x, y)


def _lookup(table: dict[str, Callable], key: str | Callable, what: str) -> Callable:
    if callable(key):
        return key
    if key not in table:
        raise ValueError(f"{what} must be one of {', '.join(table)}; got {key!r}")
    return table[key]
