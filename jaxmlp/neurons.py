"""Looking inside a trained network: arrays only (``jaxmlp.plots`` draws them).

Layers are numbered as in ``jaxmlp.model.layer_activations``: 0 is the input image, 1 and 2 the hidden layers
of 784-16-16-10, and ``L = len(params)`` the output layer. Images are ``(784,)`` or ``(n, 784)`` float pixels in
[0, 1]; uint8 images (as stored in ``Dataset``) are accepted and divided by 255 (``jaxmlp.to_float``). Every
function takes ``params`` first and the network's ``activation``/``output`` names as keywords (defaults:
sigmoid, as ``forward``), so it works for any preset.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.errors import InputError
from jaxmlp.model import ActivationName, AnyArray, OutputName, ParamsLike, forward, layer_activations
from jaxmlp.validate import IMAGE_SIDE as SIDE
from jaxmlp.validate import check_images, check_params, to_float


def first_layer_images(params: ParamsLike) -> jax.Array:
    """Each first-layer neuron's 784 incoming weights as a 28 × 28 image: ``w1[:, j].reshape(28, 28)``, (n1, 28, 28)."""
    w = jnp.asarray(params[0]["w"])
    return w.T.reshape(w.shape[1], SIDE, SIDE)


def second_layer_images(params: ParamsLike) -> jax.Array:
    """Each second-layer neuron's weighted combination of the first-layer images, ``(n2, 28, 28)``.

    Image ``k`` is ``sum_j w2[j, k] * first_layer_images[j]``, i.e. ``(w1 @ w2)[:, k]`` reshaped: the pixel pattern
    that the neuron would see through the first layer if the first layer were linear.
    """
    w = jnp.asarray(params[0]["w"]) @ jnp.asarray(params[1]["w"])
    return w.T.reshape(w.shape[1], SIDE, SIDE)


def _outputs(params: ParamsLike, x: AnyArray, activation: ActivationName, output: OutputName) -> jax.Array:
    """The output activations ``a_L`` for images ``x`` (uint8 or floats in [0, 1]), checked like ``predict``'s."""
    check_params(params)
    check_images(x, n_in=params[0]["w"].shape[0], allow_single=True)
    return forward(params, jnp.asarray(to_float(x)), activation=activation, output=output)


def _objective(
    params: ParamsLike, x: AnyArray, layer: int, neuron: jax.Array, activation: ActivationName, output: OutputName
) -> jax.Array:
    """What gradient ascent maximises for neuron ``neuron`` of layer ``layer`` on one image ``x`` ``(784,)``.

    ``log a`` for neurons bounded in (0, 1) (sigmoid, softmax; tanh via ``log((1 + a) / 2)``): its gradient does
    not vanish far from the goal and fades once the neuron is saturated, where the penalty then removes ink the
    neuron does not need. The weighted input ``z`` for unbounded neurons (ReLU, identity); ``a`` grows with ``z``.
    """
    z = layer_activations(params[:layer], x, activation=activation, output="identity")[-1]
    f = output if layer == len(params) else activation
    if f == "softmax":
        return jax.nn.log_softmax(z)[neuron]
    if f == "sigmoid":
        return jax.nn.log_sigmoid(z[neuron])
    if f == "tanh":
        return jax.nn.log_sigmoid(2 * z[neuron])  # (1 + tanh z) / 2 = sigmoid(2z)
    return z[neuron]


@functools.partial(jax.jit, static_argnames=("layer", "steps", "activation", "output"))
def _ascend(
    params: ParamsLike,
    x0: AnyArray,
    neuron: jax.Array,
    lr: jax.Array,
    penalty: jax.Array,
    *,
    layer: int,
    steps: int,
    activation: ActivationName,
    output: OutputName,
) -> jax.Array:
    def score(x: AnyArray) -> jax.Array:
        return _objective(params, x, layer, neuron, activation, output) - penalty * jnp.sum(x**2)

    grad = jax.grad(score)

    def step(t: int, x: AnyArray) -> jax.Array:
        g = grad(x)
        g = g / (jnp.sqrt(jnp.mean(g**2)) + 1e-12)  # normalised step: same speed whatever the gradient's scale
        size = lr * 0.5 * (1 + jnp.cos(jnp.pi * t / steps))  # cosine decay, so the ascent settles
        return jnp.clip(x + size * g, 0.0, 1.0)  # projection back onto the box [0, 1]^784

    return jax.lax.fori_loop(0, steps, step, x0)


def maximize_neuron(
    params: ParamsLike,
    layer: int,
    neuron: int,
    *,
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
    x0: AnyArray | None = None,
    steps: int = 200,
    lr: float = 0.05,
    penalty: float = 1e-3,
) -> jax.Array:
    """The input ``(784,)`` in [0, 1] that most excites neuron ``neuron`` of layer ``layer`` (1..L), by gradient ascent.

    Maximises ``log a(x) - penalty * |x|^2`` over the input ``x`` (``z(x)`` instead of ``log a`` for ReLU and
    identity neurons; see ``_objective``) with ``steps`` normalised gradient steps of root-mean-square size ``lr``
    per pixel (decayed to 0 on a cosine), each followed by clipping to [0, 1]. Starts from ``x0`` (default: uniform
    grey 0.5). One jitted ``fori_loop``.
    """
    if not 1 <= layer <= len(params):
        raise InputError(f"layer must be 1..{len(params)} (0 is the input image); got {layer}")
    n_out = int(params[layer - 1]["w"].shape[1])
    if not 0 <= neuron < n_out:
        raise InputError(f"layer {layer} has neurons 0..{n_out - 1}; got {neuron}")
    n_in = int(params[0]["w"].shape[0])
    x0 = jnp.full((n_in,), 0.5, jnp.float32) if x0 is None else jnp.asarray(to_float(x0)).reshape(n_in)
    return _ascend(
        params,
        x0,
        jnp.asarray(neuron),
        jnp.float32(lr),
        jnp.float32(penalty),
        layer=layer,
        steps=steps,
        activation=activation,
        output=output,
    )


def maximize_layer(
    params: ParamsLike,
    layer: int,
    *,
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
    steps: int = 200,
    lr: float = 0.05,
    penalty: float = 1e-3,
) -> jax.Array:
    """``maximize_neuron`` for every neuron of ``layer`` at once (vmapped), ``(n_layer, 784)``."""
    if not 1 <= layer <= len(params):
        raise InputError(f"layer must be 1..{len(params)} (0 is the input image); got {layer}")
    n_in, n_out = int(params[0]["w"].shape[0]), int(params[layer - 1]["w"].shape[1])
    x0 = jnp.full((n_in,), 0.5, jnp.float32)
    kwargs = {"layer": layer, "steps": steps, "activation": activation, "output": output}
    ascend = jax.vmap(lambda j: _ascend(params, x0, j, jnp.float32(lr), jnp.float32(penalty), **kwargs))
    return ascend(jnp.arange(n_out))


def neuron_activation(
    params: ParamsLike,
    x: AnyArray,
    layer: int,
    neuron: int,
    *,
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
) -> jax.Array:
    """The activation ``a_layer[neuron]`` for image(s) ``x``: ``()`` or ``(batch,)``."""
    return layer_activations(params, jnp.asarray(to_float(x)), activation=activation, output=output)[layer][..., neuron]


class NoiseConfidence(NamedTuple):
    """Top output activation on uniform-noise images next to the same on real digits."""

    noise: np.ndarray  # (n_noise,) max_j a_L[j] for each noise image
    noise_digit: np.ndarray  # (n_noise,) the digit the network names for each noise image
    digits: np.ndarray  # (n_digits,) max_j a_L[j] for each real image


def top_output(
    params: ParamsLike, x: AnyArray, *, activation: ActivationName = "sigmoid", output: OutputName = "sigmoid"
) -> jax.Array:
    """The network's confidence: the largest output activation ``max_j a_L[j]``, ``()`` or ``(batch,)``."""
    return jnp.max(_outputs(params, x, activation, output), axis=-1)


def noise_confidence(
    params: ParamsLike,
    key: jax.Array,
    digits: AnyArray,
    *,
    n: int = 1000,
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
) -> NoiseConfidence:
    """How sure the network is on ``n`` uniform-noise images ``U[0, 1]^784`` (drawn with ``key``) vs on ``digits``."""
    noise = jax.random.uniform(key, (n, int(params[0]["w"].shape[0])), jnp.float32)
    out = _outputs(params, noise, activation, output)
    real = top_output(params, digits, activation=activation, output=output)
    return NoiseConfidence(np.asarray(out.max(-1)), np.asarray(out.argmax(-1)), np.asarray(real))


def confusion_matrix(
    params: ParamsLike,
    x: AnyArray,
    y: AnyArray,
    *,
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
) -> np.ndarray:
    """``(k, k)`` int counts, ``C[i, j]`` = number of images with label ``i`` predicted as ``j`` (k = output width)."""
    k = int(params[-1]["w"].shape[1])
    predicted = jnp.argmax(_outputs(params, x, activation, output), axis=-1)
    counts = jnp.bincount(jnp.asarray(y, jnp.int32) * k + predicted, length=k * k)
    return np.asarray(counts.reshape(k, k))


class Mistakes(NamedTuple):
    """The most confidently misclassified images, most confident first."""

    position: np.ndarray  # (m,) where each is in the given x
    label: np.ndarray  # (m,) true digits
    predicted: np.ndarray  # (m,) the network's digits
    confidence: np.ndarray  # (m,) top output activation


def confident_mistakes(
    params: ParamsLike,
    x: AnyArray,
    y: AnyArray,
    *,
    k: int = 16,
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
) -> Mistakes:
    """The ``k`` (or fewer) misclassified images of ``x`` with the highest top output activation."""
    out = np.asarray(_outputs(params, x, activation, output))
    y = np.asarray(y)
    predicted, confidence = out.argmax(-1), out.max(-1)
    wrong = np.flatnonzero(predicted != y)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:k]
    return Mistakes(order, y[order], predicted[order], confidence[order])
