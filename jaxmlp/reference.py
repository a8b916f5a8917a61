"""Backpropagation written out by hand in NumPy, as in chapter 2 of Nielsen's book: the slow, obvious reference.

No JAX here, on purpose: this is the independent derivation that ``jax.grad`` is checked against.
Same conventions as the JAX code: ``params = [{"w": (n_in, n_out), "b": (n_out,)}, ...]``, batch-major inputs
``x`` of shape ``(n, n_0)``, each layer ``z = a @ w + b``, ``a' = f(z)``, integer labels ``y`` of shape ``(n,)``.
Layer ``l`` (1..L) is ``params[l - 1]``; the input is layer 0. Everything is computed in the params' dtype.

For one example ``x`` with cost ``C_x``, the four equations (batch-major, one row per example) are

* BP1, output error:       ``δ^L = ∇_a C_x ⊙ σ'(z^L)``
* BP2, error backwards:    ``δ^l = (δ^{l+1} @ w^{l+1}.T) ⊙ σ'(z^l)``
* BP3, bias gradient:      ``∂C_x/∂b^l = δ^l``
* BP4, weight gradient:    ``∂C_x/∂w^l = a^{l-1}.T @ δ^l`` (an outer product per example)

and the batch cost ``C = mean_x C_x`` has the average of those gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^{-z})."""
    with np.errstate(over="ignore"):  # e^{-z} overflows to inf for very negative z, and 1/inf = 0 is right
        return 1 / (1 + np.exp(-z))


def softmax(z: np.ndarray) -> np.ndarray:
    """softmax(z)_j = e^{z_j} / sum_k e^{z_k}, along the last axis (shifted by the max, which cancels)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# Each activation with its derivative; the derivative is written in terms of z and a = f(z).
HIDDEN = {
    "sigmoid": (sigmoid, lambda z, a: a * (1 - a)),  # σ' = σ(1 - σ)
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),  # 1 where z > 0, else 0
    "tanh": (np.tanh, lambda z, a: (1 + a) * (1 - a)),  # tanh' = 1 - tanh² = (1 + a)(1 - a)
}
OUTPUT_LAYERS = {"sigmoid": sigmoid, "softmax": softmax, "identity": lambda z: z}
COST_NAMES = ("quadratic", "cross-entropy")


def forward(
    params: list[dict[str, Any]], x: Any, *, activation: str = "sigmoid", output: str = "sigmoid"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Feed ``x`` (n, n_0) forward, keeping every layer: returns ``[z^1..z^L]`` and ``[a^0..a^L]``."""
    f, f_out = HIDDEN[activation][0], OUTPUT_LAYERS[output]
    dtype = np.asarray(params[0]["w"]).dtype
    a = np.asarray(x, dtype)
    zs, activations = [], [a]
    for i, layer in enumerate(params, start=1):
        z = a @ np.asarray(layer["w"]) + np.asarray(layer["b"])  # z^i = a^{i-1} w^i + b^i
        a = f(z) if i < len(params) else f_out(z)  # a^i = f(z^i)
        zs.append(z)
        activations.append(a)
    return zs, activations


def output_error(z: np.ndarray, a: np.ndarray, t: np.ndarray, *, output: str, cost: str) -> np.ndarray:
    """BP1 for each example's own cost ``C_x``: ``δ^L = ∂C_x/∂z^L``, shape (n, n_L)."""
    if cost == "cross-entropy":
        if output not in ("sigmoid", "softmax"):
            raise ValueError(f"cross-entropy needs output 'sigmoid' or 'softmax'; got {output!r}")
        # ∇_a C_x ⊙ σ'(z) simplifies to a - t: for sigmoid, (a - t)/(a(1 - a)) ⊙ a(1 - a) (Nielsen eq. 66);
        # for softmax with the log-likelihood, -t/a through the softmax Jacobian (eq. 84). Written simplified
        # because the unsimplified product divides by zero once a neuron saturates.
        return a - t
    grad_a = 2 * (a - t)  # ∇_a C_x for C_x = sum_j (a_j - t_j)^2 (no 1/2, hence the 2)
    if output == "sigmoid":
        return grad_a * a * (1 - a)  # BP1: ∇_a C ⊙ σ'(z^L)
    if output == "softmax":
        # softmax mixes the outputs, so ⊙ σ'(z) becomes the Jacobian ∂a_j/∂z_k = a_j (1[j=k] - a_k), applied
        # to ∇_a C: δ_k = a_k (g_k - sum_j g_j a_j).
        return a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))
    return grad_a  # identity output: σ'(z) = 1


def errors(
    params: list[dict[str, Any]],
    x: Any,
    y: Any,
    *,
    activation: str = "sigmoid",
    output: str = "sigmoid",
    cost: str = "quadratic",
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-example errors ``δ^l = ∂C_x/∂z^l`` (each (n, n_l)) for every layer, with the activations ``a^0..a^L``."""
    if activation not in HIDDEN or output not in OUTPUT_LAYERS or cost not in COST_NAMES:
        raise ValueError(
            f"activation must be one of {sorted(HIDDEN)}, output one of {list(OUTPUT_LAYERS)}, "
            f"cost one of {list(COST_NAMES)}; got {activation!r}, {output!r}, {cost!r}"
        )
    zs, activations = forward(params, x, activation=activation, output=output)
    t = np.eye(zs[-1].shape[-1], dtype=zs[-1].dtype)[np.asarray(y)]  # one-hot targets, (n, n_L)
    f_prime = HIDDEN[activation][1]
    delta = output_error(zs[-1], activations[-1], t, output=output, cost=cost)  # BP1
    deltas = [delta]
    for i in range(len(params) - 1, 0, -1):  # layers i = L-1, ..., 1
        w_next = np.asarray(params[i]["w"])  # w^{i+1}
        delta = (delta @ w_next.T) * f_prime(zs[i - 1], activations[i])  # BP2: (δ^{i+1} w^{i+1 T}) ⊙ σ'(z^i)
        deltas.insert(0, delta)
    return deltas, activations


def backprop(
    params: list[dict[str, Any]],
    x: Any,
    y: Any,
    *,
    activation: str = "sigmoid",
    output: str = "sigmoid",
    cost: str = "quadratic",
) -> list[dict[str, np.ndarray]]:
    """Gradient of the batch cost ``C = mean_x C_x``, in the params layout: the average of the per-example ones."""
    deltas, activations = errors(params, x, y, activation=activation, output=output, cost=cost)
    n = deltas[0].shape[0]
    return [
        {
            "w": activations[i - 1].T @ delta / n,  # BP4: ∂C/∂w^i = a^{i-1 T} δ^i, averaged over the batch
            "b": delta.mean(axis=0),  # BP3: ∂C/∂b^i = δ^i, averaged over the batch
        }
        for i, delta in enumerate(deltas, start=1)
    ]


def per_example_backprop(
    params: list[dict[str, Any]],
    x: Any,
    y: Any,
    *,
    activation: str = "sigmoid",
    output: str = "sigmoid",
    cost: str = "quadratic",
) -> list[dict[str, np.ndarray]]:
    """Each example's gradient ``∂C_x/∂θ``: leaves ``w`` (n, n_in, n_out) and ``b`` (n, n_out)."""
    deltas, activations = errors(params, x, y, activation=activation, output=output, cost=cost)
    return [
        {
            "w": np.einsum("nj,nk->njk", activations[i - 1], delta),  # BP4: a^{i-1} ⊗ δ^i for each example
            "b": delta,  # BP3: ∂C_x/∂b^i = δ^i
        }
        for i, delta in enumerate(deltas, start=1)
    ]
