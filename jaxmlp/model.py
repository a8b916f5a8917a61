"""The network: random initial parameters and the pure forward pass.

Parameters are a list with one dict per layer, ``{"w": (n_in, n_out), "b": (n_out,)}``, and inputs are
batch-major, ``x`` of shape ``(batch, n_in)``, so each layer computes ``a' = f(a @ w + b)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxmlp.validate import check_image_shape, check_images, check_params

Params = list[dict[str, jax.Array]]
Activation = Callable[[jax.Array], jax.Array]

SEED_SIZES: tuple[int, ...] = (784, 16, 16, 10)

#: Hidden activations by name (the CLI and checkpoints refer to them by these names).
ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
}
#: Output activations by name; softmax turns the 10 outputs into probabilities.
OUTPUTS: dict[str, Activation] = {
    "sigmoid": jax.nn.sigmoid,
    "softmax": jax.nn.softmax,
    "identity": lambda z: z,
}
INITS = ("normal", "lecun", "he")


def init_params(
    key: jax.Array, sizes: Sequence[int] = SEED_SIZES, *, init: str = "normal", dtype: Any = jnp.float32
) -> Params:
    """Random weights and biases for a network with layer widths ``sizes``.

    ``init="normal"``: every weight and bias ~ N(0, 1), the "completely at random" start of Nielsen's
    ``network.py``. ``"lecun"``: w ~ N(0, 1/n_in); ``"he"``: w ~ N(0, 2/n_in); both with zero biases.
    """
    sizes = _check_sizes(sizes)
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")
    typed = isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    raw = isinstance(key, jax.Array) and key.dtype == jnp.uint32 and key.shape == (2,)
    if not ((typed and key.shape == ()) or raw):
        got = f"{key.dtype} array of shape {key.shape}" if isinstance(key, jax.Array) else type(key).__name__
        raise TypeError(f"key must be one jax.random key (jax.random.key(seed)); got {got}")
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating-point type like jnp.float32; got {dtype!r}")
    params = []
    for layer_key, n_in, n_out in zip(jax.random.split(key, len(sizes) - 1), sizes[:-1], sizes[1:], strict=True):
        w_key, b_key = jax.random.split(layer_key)
        w = jax.random.normal(w_key, (n_in, n_out), dtype)
        if init == "normal":
            b = jax.random.normal(b_key, (n_out,), dtype)
        else:
            w = w * jnp.sqrt(jnp.asarray((1.0 if init == "lecun" else 2.0) / n_in, dtype))
            b = jnp.zeros((n_out,), dtype)
        params.append({"w": w, "b": b})
    return params


def num_params(params: Params) -> int:
    """Total number of weights and biases (13,002 for 784-16-16-10)."""
    return sum(int(leaf.size) for leaf in jax.tree.leaves(params))


def layer_sizes(params: Params) -> tuple[int, ...]:
    """The widths ``(n_0, n_1, ..., n_L)`` that ``params`` was built for."""
    return (int(params[0]["w"].shape[0]), *(int(layer["w"].shape[1]) for layer in params))


def forward(
    params: Params, x: jax.Array, *, activation: Activation = jax.nn.sigmoid, output: Activation = jax.nn.sigmoid
) -> jax.Array:
    """Output activations ``a_L`` for one image ``x`` of shape ``(784,)`` or a batch ``(n, 784)``.

    Each hidden layer computes ``a = activation(a @ w + b)``; the last uses ``output`` instead.
    Returns ``(10,)`` or ``(n, 10)`` to match ``x``. Shapes and dtypes are checked (also under ``jax.jit``).
    """
    check_params(params, finite=False)
    check_image_shape(x, n_in=params[0]["w"].shape[0], allow_single=True, allow_uint8=False)
    a = x
    for layer in params[:-1]:
        a = activation(a @ layer["w"] + layer["b"])
    return output(a @ params[-1]["w"] + params[-1]["b"])


def predict(params: Params, x: jax.Array, **forward_kwargs: Activation) -> jax.Array:
    """The predicted digit: the index of the brightest output neuron, ``(n,)`` or ``()``.

    Concrete inputs are checked for NaN/infinite pixels and values outside [0, 1] (never a silent wrong digit).
    """
    check_params(params)
    check_images(x, n_in=params[0]["w"].shape[0], allow_single=True, allow_uint8=False)
    return jnp.argmax(forward(params, x, **forward_kwargs), axis=-1)


def accuracy(params: Params, x: jax.Array, y: jax.Array, **forward_kwargs: Activation) -> jax.Array:
    """Fraction of examples whose predicted digit equals the integer label ``y``."""
    return jnp.mean(predict(params, x, **forward_kwargs) == y)


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    try:
        if isinstance(sizes, str | bytes) or any(isinstance(n, bool) or int(n) != n for n in sizes):
            raise TypeError
        sizes = tuple(int(n) for n in sizes)
    except (TypeError, ValueError):
        raise TypeError(f"sizes must be a sequence of layer widths like (784, 16, 16, 10); got {sizes!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes needs at least two positive layer widths, like (784, 16, 16, 10); got {sizes}")
    return sizes
