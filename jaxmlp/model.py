"""The network: random initial parameters and the pure forward pass.

Parameters are a list with one dict per layer, ``{"w": (n_in, n_out), "b": (n_out,)}``, and inputs are
batch-major, ``x`` of shape ``(batch, n_in)``, so each layer computes ``a' = f(a @ w + b)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.errors import InputError
from jaxmlp.validate import (
    NUM_CLASSES,
    NUM_PIXELS,
    check_choice,
    check_image_shape,
    check_images,
    check_labels,
    check_memory,
    check_params,
    to_float,
)

Params = list[dict[str, jax.Array]]  #: what jaxmlp returns: one ``{"w", "b"}`` dict per layer
ParamsLike = Sequence[Mapping[str, "jax.Array | np.ndarray"]]  #: what it accepts: NumPy or JAX leaves
AnyArray = jax.Array | np.ndarray  #: images and labels: NumPy or JAX arrays
ActivationName = Literal["sigmoid", "relu", "tanh"]
OutputName = Literal["sigmoid", "softmax", "identity"]
InitName = Literal["normal", "lecun", "he"]

SEED_SIZES: tuple[int, ...] = (NUM_PIXELS, 16, 16, NUM_CLASSES)

#: Hidden activations by name: the only place a name becomes a function (the CLI's choices come from here).
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
}
#: Output activations by name; softmax turns the 10 outputs into probabilities, identity leaves ``z``.
OUTPUTS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": jax.nn.sigmoid,
    "softmax": jax.nn.softmax,
    "identity": lambda z: z,
}
INITS: tuple[str, ...] = ("normal", "lecun", "he")


def init_params(
    key: jax.Array, sizes: Sequence[int] = SEED_SIZES, *, init: InitName = "normal", dtype: Any = jnp.float32
) -> Params:
    """Random weights and biases for a network with layer widths ``sizes``.

    ``init="normal"``: every weight and bias ~ N(0, 1), the "completely at random" start of Nielsen's
    ``network.py``. ``"lecun"``: w ~ N(0, 1/n_in); ``"he"``: w ~ N(0, 2/n_in); both with zero biases.
    """
    sizes = check_sizes(sizes)
    check_memory(sizes, 1)
    check_choice("init", init, INITS)
    typed = isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    raw = isinstance(key, jax.Array) and key.dtype == jnp.uint32 and key.shape == (2,)
    if not ((typed and key.shape == ()) or raw):
        got = f"{key.dtype} array of shape {key.shape}" if isinstance(key, jax.Array) else type(key).__name__
        raise InputError(f"key must be one jax.random key (jax.random.key(seed)); got {got}")
    if not jnp.issubdtype(dtype, jnp.floating):
        raise InputError(f"dtype must be a floating-point type like jnp.float32; got {dtype!r}")
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


def num_params(params: ParamsLike) -> int:
    """Total number of weights and biases (13,002 for 784-16-16-10)."""
    return sum(int(leaf.size) for leaf in jax.tree.leaves(params))


def layer_sizes(params: ParamsLike) -> tuple[int, ...]:
    """The widths ``(n_0, n_1, ..., n_L)`` that ``params`` was built for."""
    return (int(params[0]["w"].shape[0]), *(int(layer["w"].shape[1]) for layer in params))


def layer_activations(
    params: ParamsLike, x: AnyArray, *, activation: ActivationName = "sigmoid", output: OutputName = "sigmoid"
) -> list[jax.Array]:
    """Every layer's activations ``[a^0 = x, a^1, ..., a^L]`` for ``x`` ``(n_0,)`` or ``(batch, n_0)``.

    ``a^l = activation(a^{l-1} @ w^l + b^l)`` for the hidden layers and ``output(...)`` for the last; each
    ``a^l`` is ``(n_l,)`` or ``(batch, n_l)`` to match ``x``. ``output="identity"`` gives the last layer's weighted
    input ``z^L``. ``x`` must be float pixels (see ``jaxmlp.to_float``). This is the package's one forward loop.
    Shapes and dtypes are checked, under ``jax.jit`` too.
    """
    hidden = ACTIVATIONS[check_choice("activation", activation, ACTIVATIONS)]
    last = OUTPUTS[check_choice("output", output, OUTPUTS)]
    check_params(params, finite=False)
    check_image_shape(x, n_in=params[0]["w"].shape[0], allow_single=True, allow_uint8=False)
    activations = [jnp.asarray(x)]
    for i, layer in enumerate(params, start=1):
        f = last if i == len(params) else hidden
        activations.append(f(activations[-1] @ layer["w"] + layer["b"]))
    return activations


def forward(
    params: ParamsLike, x: AnyArray, *, activation: ActivationName = "sigmoid", output: OutputName = "sigmoid"
) -> jax.Array:
    """The output activations ``a^L`` for one image ``x`` ``(784,)`` or a batch ``(n, 784)`` of float pixels.

    Each hidden layer computes ``a = activation(a @ w + b)``; the last uses ``output`` instead.
    Returns ``(10,)`` or ``(n, 10)`` to match ``x``. Shapes and dtypes are checked (also under ``jax.jit``).
    """
    return layer_activations(params, x, activation=activation, output=output)[-1]


def predict(
    params: ParamsLike, x: Any, *, activation: ActivationName = "sigmoid", output: OutputName = "sigmoid"
) -> jax.Array:
    """The predicted digit, the index of the brightest output neuron: ``(n,)`` for ``(n, 784)``, ``()`` for ``(784,)``.

    ``x`` is uint8 pixels 0..255 or floats in [0, 1]. Concrete inputs are checked for NaN/infinite pixels and
    values outside [0, 1], and params for NaN (never a silent wrong digit).
    """
    check_params(params)
    check_images(x, n_in=params[0]["w"].shape[0], allow_single=True)
    return jnp.argmax(forward(params, to_float(x), activation=activation, output=output), axis=-1)


def accuracy(
    params: ParamsLike, x: Any, y: Any, *, activation: ActivationName = "sigmoid", output: OutputName = "sigmoid"
) -> jax.Array:
    """Fraction of the images ``x`` (uint8 or floats in [0, 1]) whose predicted digit is the label ``y`` ``(n,)``."""
    sizes = check_params(params)
    check_images(x, n_in=sizes[0])
    check_labels(y, x.shape[0], num_classes=sizes[-1])
    return jnp.mean(predict(params, x, activation=activation, output=output) == jnp.asarray(y))


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """``sizes`` as a tuple of at least two positive layer widths (a one-line ``InputError`` otherwise)."""
    try:
        if isinstance(sizes, str | bytes) or any(isinstance(n, bool) or int(n) != n for n in sizes):
            raise TypeError
        sizes = tuple(int(n) for n in sizes)
    except (TypeError, ValueError):
        raise InputError(f"sizes must be a sequence of layer widths like (784, 16, 16, 10); got {sizes!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise InputError(f"sizes needs at least two positive layer widths, like (784, 16, 16, 10); got {sizes}")
    return sizes
