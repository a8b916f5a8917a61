"""The classic backpropagation mistakes, each computed from the correct NumPy derivation with the mistake switched on.

The gradient checker uses this catalogue to say *which* mistake a failing gradient makes. For every mistake,
``mistaken_backprop`` runs ``jaxmlp.reference``'s forward pass and the four equations (BP1–BP4, see
``jaxmlp.reference``) with exactly one line changed; ``explain`` then compares a learner's leaf with each of them,
allowing a constant factor that is a product of a sign, ½ or 2, and the batch size ``B`` or ``1/B`` (the factor is
fitted at two batch sizes, so ``B × ½`` is told apart from ``1`` even at ``B = 2``).

Shapes as in ``jaxmlp.reference``: params ``[{"w": (n_in, n_out), "b": (n_out,)}]``, ``x`` ``(n, n_0)``, ``y``
``(n,)``. Everything here is float64 NumPy, independent of ``jax.grad``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxmlp import reference

Leaves = dict[tuple[int, str], np.ndarray]  # (layer, "w" or "b") -> array, layers numbered from 1


@dataclasses.dataclass(frozen=True)
class Mistake:
    """One catalogued mistake: its name, the equation it breaks and that equation written correctly."""

    key: str
    name: str
    equation: str  # "BP1" .. "BP4"
    correct: str  # the line to fix, batch-major (jaxmlp) form
    correct_nielsen: str  # the same line in Nielsen's column-vector form


CATALOGUE: tuple[Mistake, ...] = (
    Mistake("bp1-no-sigma-prime", "σ'(z) missing in BP1", "BP1", "δ^L = ∇_a C ⊙ σ'(z^L)", "δ^L = ∇_a C ⊙ σ'(z^L)"),
    Mistake(
        "bp1-sigma-prime-of-a",
        "σ'(a) instead of σ'(z) in BP1",
        "BP1",
        "δ^L = ∇_a C ⊙ σ'(z^L), and σ'(z^L) = σ(z^L)(1 − σ(z^L)) = a^L(1 − a^L), not σ(a^L)(1 − σ(a^L))",
        "delta = cost_derivative(a, y) * sigmoid_prime(zs[-1])  # z, not activations[-1]",
    ),
    Mistake(
        "bp2-no-sigma-prime",
        "σ'(z) missing in BP2",
        "BP2",
        "δ^l = (δ^{l+1} w^{l+1}ᵀ) ⊙ σ'(z^l)",
        "δ^l = (w^{l+1}ᵀ δ^{l+1}) ⊙ σ'(z^l)",
    ),
    Mistake(
        "bp2-sigma-prime-of-a",
        "σ'(a) instead of σ'(z) in BP2",
        "BP2",
        "δ^l = (δ^{l+1} w^{l+1}ᵀ) ⊙ σ'(z^l), with σ'(z^l) = a^l(1 − a^l), not σ(a^l)(1 − σ(a^l))",
        "delta = np.dot(weights[-l + 1].T, delta) * sigmoid_prime(zs[-l])  # z, not activations[-l]",
    ),
    Mistake(
        "bp12-sigma-prime-of-a",
        "σ'(a) instead of σ'(z) in BP1 and BP2",
        "BP1, BP2",
        "σ'(z^l) = a^l(1 − a^l) in BP1 and BP2, not σ(a^l)(1 − σ(a^l))",
        "sigmoid_prime(zs[-l]), not sigmoid_prime(activations[-l]), in BP1 and BP2",
    ),
    Mistake(
        "bp2-w-not-transposed",
        "w for wᵀ in BP2",
        "BP2",
        "δ^l = (δ^{l+1} w^{l+1}ᵀ) ⊙ σ'(z^l)",
        "δ^l = (w^{l+1}ᵀ δ^{l+1}) ⊙ σ'(z^l)  # np.dot(weights[-l + 1].transpose(), delta)",
    ),
    Mistake(
        "bp4-a-l",
        "a^l for a^(l−1) in BP4",
        "BP4",
        "∂C/∂w^l = (a^{l−1})ᵀ δ^l: the activations of the layer below",
        "nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())",
    ),
    Mistake(
        "bp4-transposed",
        "transposed weight gradient",
        "BP4",
        "∂C/∂w^l = (a^{l−1})ᵀ δ^l, shape (n_{l−1}, n_l) like w^l",
        "nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose()), shape (n_l, n_{l−1})",
    ),
    Mistake(
        "bp3-last-example",
        "bias gradient of one example (the last)",
        "BP3",
        "∂C/∂b^l = the mean over the batch of δ^l (not the last row)",
        "nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]  # add up every example",
    ),
)
BY_KEY = {m.key: m for m in CATALOGUE}


def applicable(sizes: Sequence[int], *, activation: str, output: str, cost: str) -> tuple[Mistake, ...]:
    """The mistakes that can be made (and told from a correct gradient) for this network and cost.

    BP1 mistakes need a sigmoid output with the quadratic cost; σ'(a) needs a sigmoid or tanh hidden layer
    (for ReLU, ``relu'(a) = relu'(z)``); ``w`` for ``wᵀ`` in BP2 and both BP4 mistakes need a square layer,
    since any other shape would not run. The bias of one example differs from the mean only for ``n > 1``.
    """
    bp1 = output == "sigmoid" and cost == "quadratic"
    hidden = len(sizes) > 2 and activation in ("sigmoid", "tanh")
    square = any(a == b for a, b in itertools.pairwise(sizes[1:])) if len(sizes) > 2 else False
    square_w = any(a == b for a, b in itertools.pairwise(sizes))
    ok = {
        "bp1-no-sigma-prime": bp1,
        "bp1-sigma-prime-of-a": bp1,
        "bp2-no-sigma-prime": len(sizes) > 2,
        "bp2-sigma-prime-of-a": hidden,
        "bp12-sigma-prime-of-a": bp1 and hidden,
        "bp2-w-not-transposed": square,
        "bp4-a-l": square_w,
        "bp4-transposed": square_w,
        "bp3-last-example": True,
    }
    return tuple(m for m in CATALOGUE if ok[m.key])


def mistaken_backprop(
    params: Sequence[dict[str, Any]],
    x: Any,
    y: Any,
    mistake: str | None,
    *,
    activation: str = "sigmoid",
    output: str = "sigmoid",
    cost: str = "quadratic",
) -> list[dict[str, np.ndarray]]:
    """``jaxmlp.reference.backprop`` in float64 with the catalogue's ``mistake`` (a key, or None for none) made.

    Mistakes that need a square matrix are made only where the shapes allow; elsewhere the line is correct,
    as it would have to be for the learner's code to run at all.
    """
    p = [{k: np.asarray(layer[k], np.float64) for k in ("w", "b")} for layer in params]
    zs, acts = reference.forward(p, np.asarray(x, np.float64), activation=activation, output=output)
    t = np.eye(zs[-1].shape[-1])[np.asarray(y)]
    f, f_prime = reference.HIDDEN[activation]
    a_out = acts[-1]
    if mistake == "bp1-no-sigma-prime":
        delta = 2 * (a_out - t)  # BP1 without ⊙ σ'(z^L)
    elif mistake in ("bp1-sigma-prime-of-a", "bp12-sigma-prime-of-a"):
        s = reference.sigmoid(a_out)
        delta = 2 * (a_out - t) * s * (1 - s)  # σ'(a^L) = σ(a)(1 − σ(a))
    else:
        delta = reference.output_error(zs[-1], a_out, t, output=output, cost=cost)
    deltas = [delta]
    for i in range(len(p) - 1, 0, -1):  # δ^i from δ^{i+1}; p[i]["w"] is w^{i+1}
        w_next = p[i]["w"]
        square = w_next.shape[0] == w_next.shape[1]
        back = delta @ (w_next if mistake == "bp2-w-not-transposed" and square else w_next.T)
        if mistake == "bp2-no-sigma-prime":
            delta = back
        elif mistake in ("bp2-sigma-prime-of-a", "bp12-sigma-prime-of-a"):
            delta = back * f_prime(acts[i], f(acts[i]))  # f'(a) where f'(z) belongs
        else:
            delta = back * f_prime(zs[i - 1], acts[i])
        deltas.insert(0, delta)
    n = len(t)
    grads = []
    for i, delta in enumerate(deltas, start=1):
        w = acts[i - 1].T @ delta / n
        if w.shape[0] == w.shape[1] and mistake == "bp4-a-l":
            w = acts[i].T @ delta / n
        elif w.shape[0] == w.shape[1] and mistake == "bp4-transposed":
            w = w.T
        b = delta[-1] if mistake == "bp3-last-example" else delta.mean(axis=0)
        grads.append({"w": w, "b": b})
    return grads


@dataclasses.dataclass(frozen=True)
class Explanation:
    """What a failing leaf is: ``factor`` × the gradient with ``mistake`` made (None: the correct gradient)."""

    mistake: Mistake | None
    sign: int  # ±1
    half: int  # power of 2: -1 (× ½), 0, 1 (× 2)
    batch: int  # power of the batch size: -1, 0, 1

    def factor_text(self, batch_sizes: Sequence[int]) -> str:
        """The factor with its product at each batch size: ``4 × the correct gradient at batch 8 (4 = batch 8 × ½)``."""
        parts = []
        for n in batch_sizes if self.batch else batch_sizes[:1]:
            terms = (["−1"] if self.sign < 0 else []) + (
                [f"batch {n}"] if self.batch > 0 else [f"1/batch {n}"] if self.batch < 0 else []
            )
            terms += ["½"] if self.half < 0 else ["2"] if self.half > 0 else []
            value = f"{self.sign * 2.0**self.half * float(n) ** self.batch:g}"
            product = f" ({value} = {' × '.join(terms)})" if len(terms) > 1 or self.batch else ""
            parts.append(
                f"{value} ×{' the correct gradient' if not parts else ''}"
                + (f" at batch {n}" if self.batch else "")
                + product
            )
        return " and ".join(parts)

    def reasons(self, half_cost: bool) -> list[str]:
        """One phrase per factor: what it means and where to fix it."""
        out = []
        if self.batch > 0:
            out.append("a sum over the batch where the mean belongs (C is the batch mean: divide by the batch size)")
        if self.batch < 0:
            out.append("divided by the batch size once too often")
        if self.half < 0:
            out.append(
                "an extra ½: Nielsen's C_x = ½‖a − y‖² gives ∇_a C = a − y in BP1"
                if half_cost
                else "a ½ too many: jaxmlp's C_x = ‖a − t‖² has no ½, so ∇_a C = 2 (a − t) in BP1"
            )
        if self.half > 0:
            out.append(
                "a factor 2 too many: Nielsen's C_x = ½‖a − y‖² gives ∇_a C = a − y in BP1"
                if half_cost
                else "a factor 2 too many: ∇_a C = 2 (a − t) holds the only 2"
            )
        if self.sign < 0:
            out.append("the sign: ∇_a C = a − t, not t − a (a gradient points uphill)")
        return out

    def describe(self, batch_sizes: Sequence[int], *, nielsen: bool = False, half_cost: bool = False) -> str:
        """``matches "NAME": EQUATION`` and/or ``is F × the correct gradient: REASONS``."""
        factor = (self.sign, self.half, self.batch) != (1, 0, 0)
        if self.mistake is None and not factor:
            return (
                f"equals the correct gradient to within {MATCH_TOLERANCE:g} (relative): the derivation is right and "
                "the gap is rounding — compute in the params' dtype (float64 with float64 params)"
            )
        text = ""
        if self.mistake is not None:
            line = self.mistake.correct_nielsen if nielsen else self.mistake.correct
            text = f'matches "{self.mistake.name}" ({self.mistake.equation}): {line}'
        if factor:
            scale = self.factor_text(batch_sizes)
            text = f"{text}; times a factor: {scale}" if text else f"is {scale}"
            text += " — " + "; ".join(self.reasons(half_cost))
        return text


_FACTORS = sorted(
    itertools.product((1, -1), (0, -1, 1), (0, 1, -1)),
    key=lambda f: (f[0] < 0) + (f[1] != 0) + (f[2] != 0),
)  # fewest factors first: 1, then −1, ½, 2, B, 1/B, then products
MATCH_TOLERANCE = 1e-3  # relative distance to a mistaken gradient that counts as "the same"


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.linalg.norm(a - b) <= MATCH_TOLERANCE * np.linalg.norm(b))


def _fit(users: Sequence[np.ndarray], cands: Sequence[np.ndarray]) -> list[float] | None:
    """The least-squares factors ``c_k`` with ``users[k] ≈ c_k cands[k]``, or None if any residual is too large."""
    factors = []
    for u, g in zip(users, cands, strict=True):
        gg = float(np.vdot(g, g))
        if gg == 0 or not math.isfinite(gg):
            return None
        c = float(np.vdot(u, g)) / gg
        if c == 0 or np.linalg.norm(u - c * g) > MATCH_TOLERANCE * abs(c) * math.sqrt(gg):
            return None
        factors.append(c)
    return factors


def _factor(factors: Sequence[float], batch_sizes: Sequence[int]) -> tuple[int, int, int] | None:
    for sign, half, batch in _FACTORS:
        want = [sign * 2.0**half * float(n) ** batch for n in batch_sizes]
        if all(math.isclose(c, w, rel_tol=MATCH_TOLERANCE) for c, w in zip(factors, want, strict=True)):
            return sign, half, batch
    return None


def explain(
    users: Sequence[Leaves],
    candidates: dict[str | None, Sequence[Leaves]],
    batch_sizes: Sequence[int],
    keys: Sequence[tuple[int, str]],
) -> dict[tuple[int, str], Explanation]:
    """For the leaves in ``keys``: which catalogue mistake, times which factor, reproduces the learner's leaf at every
    batch (``users[k]`` and ``candidates[m][k]`` belong to the batch of size ``batch_sizes[k]``; ``m = None`` is the
    correct gradient). The explanation that covers the most leaves wins, then the next for the leaves left, and so
    on (ties: the correct gradient times a factor first, then catalogue order). Leaves that no mistake reproduces
    within ``MATCH_TOLERANCE`` are left out.
    """
    fits: dict[Explanation, list[tuple[int, str]]] = {}
    correct = candidates[None]
    for key in keys:
        if any(key not in u for u in users):
            continue
        for name, per_batch in candidates.items():
            if name is not None and all(_same(c[key], r[key]) for c, r in zip(per_batch, correct, strict=True)):
                continue  # this mistake does not change this leaf, so it cannot be what is wrong with it
            factors = _fit([u[key] for u in users], [c[key] for c in per_batch])
            factor = None if factors is None else _factor(factors, batch_sizes)
            if factor is not None:  # (None, ×1): the correct gradient up to rounding, a precision problem
                fits.setdefault(Explanation(None if name is None else BY_KEY[name], *factor), []).append(key)
    found: dict[tuple[int, str], Explanation] = {}
    while fits:
        best = max(fits, key=lambda e: len([k for k in fits[e] if k not in found]))
        new = [k for k in fits.pop(best) if k not in found]
        if not new:
            break
        found.update(dict.fromkeys(new, best))
    return found


def leaves_of(grads: Sequence[Mapping[str, Any]]) -> Leaves:
    """``[{"w", "b"}, ...]`` as ``{(layer, "w"): array, ...}`` with layers numbered from 1."""
    return {(i, k): np.asarray(layer[k], np.float64) for i, layer in enumerate(grads, start=1) for k in ("w", "b")}
