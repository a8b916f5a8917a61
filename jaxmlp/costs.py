"""Costs: how wrong the network is, averaged over a batch of examples.

``y`` always holds integer labels ``(n,)``; ``one_hot`` turns them into the ``(n, 10)`` targets.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxmlp.model import Activation, Params, forward
from jaxmlp.validate import check_label_shape


def quadratic_cost(params: Params, x: jax.Array, y: jax.Array, **forward_kwargs: Activation) -> jax.Array:
    """The seed's cost: ``mean_n sum_j (a_j - onehot(y)_j)^2``.

    For each example, the sum over the 10 outputs of the squared difference to the one-hot target;
    then the average over the examples. There is no factor 1/2 (so its gradient carries a factor 2).
    """
    a = forward(params, x, **forward_kwargs)
    check_label_shape(y, x)
    return jnp.mean(jnp.sum((a - jax.nn.one_hot(y, a.shape[-1], dtype=a.dtype)) ** 2, axis=-1))


def cross_entropy_cost(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    activation: Activation = jax.nn.sigmoid,
    output: Activation = jax.nn.sigmoid,
) -> jax.Array:
    """Cross-entropy, computed stably from the last layer's weighted inputs ``z``.

    With ``output=jax.nn.softmax``: ``mean_n -log softmax(z_n)_{y_n}`` (the log-likelihood cost).
    With ``output=jax.nn.sigmoid``: ``mean_n sum_j -[t_j log a_j + (1 - t_j) log(1 - a_j)]``, ``t = onehot(y)``
    (Nielsen's chapter 3). Either way the output error is ``dC/dz = (a - t) / n``.
    """
    z = forward(params, x, activation=activation, output=lambda z: z)
    check_label_shape(y, x)
    t = jax.nn.one_hot(y, z.shape[-1], dtype=z.dtype)
    if output is jax.nn.softmax:
        return -jnp.mean(jnp.sum(t * jax.nn.log_softmax(z, axis=-1), axis=-1))
    if output is jax.nn.sigmoid:
        log_a, log_1ma = jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z)
        return -jnp.mean(jnp.sum(t * log_a + (1 - t) * log_1ma, axis=-1))
    raise ValueError(f"cross_entropy_cost needs output=jax.nn.softmax or jax.nn.sigmoid; got {output!r}")


Cost = Callable[..., jax.Array]
#: Costs by name (the CLI and checkpoints refer to them by these names).
COSTS: dict[str, Cost] = {"quadratic": quadratic_cost, "cross-entropy": cross_entropy_cost}
