"""Costs: how wrong the network is, averaged over a batch of examples. Every cost of the package lives here.

``y`` always holds integer labels ``(n,)``; ``one_hot`` turns them into the ``(n, 10)`` targets ``t``.
Costs are named (``"quadratic"``, ``"cross-entropy"``) and looked up in ``COSTS``; ``cost_function`` returns
one with the network's activation, output and label smoothing filled in, ready for ``jax.grad``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp

from jaxmlp.errors import InputError
from jaxmlp.model import ActivationName, AnyArray, OutputName, ParamsLike, forward
from jaxmlp.validate import check_choice, check_images, check_label_shape

CostName = Literal["quadratic", "cross-entropy"]


def _targets(y: AnyArray, x: AnyArray, z: jax.Array, label_smoothing: float = 0.0) -> jax.Array:
    """One-hot targets ``t`` ``(n, K)`` for labels ``y``, smoothed to ``(1 - ε) t + ε / K`` when ``ε > 0``."""
    check_images(x, n_in=x.shape[-1], allow_single=True, allow_uint8=False)  # values too, when concrete
    check_label_shape(y, x, num_classes=z.shape[-1])
    t = jax.nn.one_hot(y, z.shape[-1], dtype=z.dtype)
    return t if not label_smoothing else (1 - label_smoothing) * t + label_smoothing / z.shape[-1]


def quadratic_cost(
    params: ParamsLike,
    x: AnyArray,
    y: AnyArray,
    *,
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
) -> jax.Array:
    """The seed's cost: ``C = mean_n sum_j (a_j - onehot(y)_j)^2`` for ``x`` ``(n, 784)`` and labels ``y`` ``(n,)``.

    For each example, the sum over the 10 outputs of the squared difference to the one-hot target;
    then the average over the examples. There is no factor 1/2 (so its gradient carries a factor 2).
    """
    a = forward(params, x, activation=activation, output=output)
    return jnp.mean(jnp.sum((a - _targets(y, x, a)) ** 2, axis=-1))


def cross_entropy_cost(
    params: ParamsLike,
    x: AnyArray,
    y: AnyArray,
    *,
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
    label_smoothing: float = 0.0,
) -> jax.Array:
    """Cross-entropy, computed stably from the last layer's weighted inputs ``z``.

    With ``output="softmax"``: ``mean_n -sum_j t_j log softmax(z_n)_j`` (the log-likelihood cost).
    With ``output="sigmoid"``: ``mean_n sum_j -[t_j log a_j + (1 - t_j) log(1 - a_j)]`` (Nielsen's chapter 3).
    ``t = onehot(y)``, or with ``label_smoothing = ε`` the smoothed ``(1 - ε) t + ε / 10``. Either way the output
    error is ``dC/dz = (a - t) / n``.
    """
    check_choice("output", output, OUTPUTS_FOR_CROSS_ENTROPY)
    z = forward(params, x, activation=activation, output="identity")
    t = _targets(y, x, z, label_smoothing)
    if output == "softmax":
        return -jnp.mean(jnp.sum(t * jax.nn.log_softmax(z, axis=-1), axis=-1))
    log_a, log_1ma = jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z)
    return -jnp.mean(jnp.sum(t * log_a + (1 - t) * log_1ma, axis=-1))


OUTPUTS_FOR_CROSS_ENTROPY = ("softmax", "sigmoid")

#: Costs by name (the CLI, configs and checkpoints refer to them by these names).
COSTS: dict[str, Callable[..., jax.Array]] = {"quadratic": quadratic_cost, "cross-entropy": cross_entropy_cost}


def cost_function(
    cost: CostName = "quadratic",
    *,
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
    label_smoothing: float = 0.0,
) -> Callable[[ParamsLike, AnyArray, AnyArray], jax.Array]:
    """The cost ``C(params, x, y)`` named ``cost``, with the network's activation and output layer filled in.

    ``label_smoothing`` > 0 is only meaningful for cross-entropy (an ``InputError`` otherwise).
    """
    check_choice("cost", cost, COSTS)
    kwargs: dict[str, Any] = {"activation": activation, "output": output}
    if label_smoothing:
        if cost != "cross-entropy":
            raise InputError(f"label_smoothing needs cost 'cross-entropy'; got cost {cost!r}")
        kwargs["label_smoothing"] = label_smoothing
    elif cost == "cross-entropy":
        check_choice("output", output, OUTPUTS_FOR_CROSS_ENTROPY)
    return functools.partial(COSTS[cost], **kwargs)
