"""Check a gradient, leaf by leaf, against ``jax.grad`` or finite differences, and say which mistake it makes.

``check_gradients(grad_fn, params, x, y)`` calls ``grad_fn(params, x, y)`` (your derivation: NumPy or JAX arrays in
the params layout ``[{"w": (n_in, n_out), "b": (n_out,)}, ...]``, or Nielsen's layout with ``layout="nielsen"``,
see ``jaxmlp.gradcheck_layouts``) and compares every leaf with the gradient of the batch-mean cost
``C = mean_x C_x``. For each leaf: the largest absolute error, the relative error ``‖g − g_ref‖ / ‖g_ref‖``
(Frobenius norms, ``jaxmlp.grads.tree_relative_error``) and the worst element. Layer ``l`` is ``params[l − 1]``.

**Two batch sizes.** A gradient off by a factor that depends on the batch size ``B`` (a sum where the mean belongs:
``B``; that plus a ½ in the cost: ``B/2``) equals the right one at ``B = 1`` or ``B = 2``. So ``grad_fn`` is also
called on a second batch of ``B₂ = 3`` examples (``4`` if ``B = 3``) made from the rows of ``x``
(``second_batch``); a leaf passes only if it passes at both sizes. (``layout="nielsen"`` calls ``grad_fn`` per
example and averages itself, so no batch factor can arise there and one batch is enough.)

**Diagnosis.** A failing leaf is compared with the gradients of the classic mistakes (``jaxmlp.mistakes``), each
times a sign, ½ or 2, and ``B`` or ``1/B``; the match is named with the equation it breaks and the line to fix.
If none matches, the report names the deepest failing layer, where the error starts (errors flow backwards).

**Tolerances** (``DEFAULT_TOLERANCES``, on the relative error). The reference is always computed in float64 from
the params' values, so a tolerance only has to cover the rounding of ``grad_fn``'s own arithmetic:

* float64 vs ``jax.grad``: 1e-12 (rounding ε ≈ 1.1e-16 amplified by sums of hundreds of terms stays near 1e-15).
* vs finite differences: 1e-6 (central differences, step h ≈ ε^{1/3}: truncation O(h²) + rounding O(ε/h) ≈ 1e-11,
  and room for curvature; always taken in float64).
* float32: 1e-5 (rounding 6e-8 amplified by 784-term dot products and saturated units).

and at least ``10 ε sqrt(B)`` for the params' machine epsilon ``ε`` (1.2e-7 in float32): a mean of ``B`` terms
accumulated one by one (as BLAS does over the batch) gains a rounding error like a random walk, about
``ε sqrt(B)``. jaxmlp's NumPy reference measured 2.0e-5 and 2.7e-5 (seeds 0, 1; ≈ ε sqrt(B)) in float32 on all
60,000 MNIST images: 1e-5 would fail it, 10 ε sqrt(B) = 2.9e-4 leaves a margin of 10, far below the relative
errors of real mistakes (0.01 and more).

Both sides run under ``jax.default_matmul_precision("highest")`` (no TF32/bf16 on GPU/TPU). With float64 params,
64-bit JAX is switched on for the duration of the check only (``jax.enable_x64``), ``grad_fn`` included.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import gradcheck_fd, mistakes
from jaxmlp.costs import CostName, cost_function
from jaxmlp.errors import InputError
from jaxmlp.gradcheck_layouts import LAYOUTS, NielsenParams, call, conversion_note
from jaxmlp.gradcheck_report import GradientReport, LeafCheck, diagnosis_lines
from jaxmlp.grads import grad, per_example_grads, tree_relative_error
from jaxmlp.model import ACTIVATIONS, OUTPUTS, ActivationName, OutputName
from jaxmlp.validate import MAX_SEED, check_bytes, check_choice, check_images, check_int, check_labels, check_params
from jaxmlp.validate import check_positive_number as _positive

__all__ = [
    "DEFAULT_TOLERANCES",
    "LAYOUTS",
    "GradientReport",
    "LeafCheck",
    "NielsenParams",
    "check_gradients",
    "per_example_grads",
    "second_batch_size",
]

REFERENCES = ("jax", "finite-differences")
FD_MODES = ("all", "directions")
DEFAULT_TOLERANCES: dict[tuple[str, str], float] = {
    ("jax", "float64"): 1e-12,
    ("finite-differences", "float64"): 1e-6,
    ("jax", "float32"): 1e-5,
    ("finite-differences", "float32"): 1e-5,
}
LEAVES = ("w", "b")


def second_batch_size(batch: int) -> int:
    """The size of the second batch: 3, or 4 when the first has 3 (it must differ, and be at least 3)."""
    return 4 if batch == 3 else 3


def second_batch(x: np.ndarray, y: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """``second_batch_size(B)`` examples, all different: rows ``i mod B`` of ``x``; the ``r``-th repeat of a row has
    its pixels reversed (r = 1) or shifted by half the image (r = 2), and its label raised by ``r`` (mod classes).

    With ``B = 1`` this gives three different examples, so a bias gradient of one example is told from the mean.
    """
    i = np.arange(second_batch_size(len(x)))
    rows, repeat = i % len(x), i // len(x)
    x2 = np.stack([_variant(x[row], int(r)) for row, r in zip(rows, repeat, strict=True)])
    return x2, ((y[rows] + repeat) % num_classes).astype(y.dtype)


def _variant(image: np.ndarray, repeat: int) -> np.ndarray:
    return image if repeat == 0 else image[::-1].copy() if repeat == 1 else np.roll(image, image.size // 2)


def default_tolerance(reference: str, dtype: np.dtype, batch: int) -> float:
    """``DEFAULT_TOLERANCES[reference, dtype]``, raised to ``10 ε sqrt(batch)`` where that is larger."""
    if (reference, dtype.name) not in DEFAULT_TOLERANCES:
        raise InputError(f"no default tolerance for {dtype.name} params; pass tolerance= (a positive number)")
    return max(DEFAULT_TOLERANCES[reference, dtype.name], 10 * float(np.finfo(dtype).eps) * math.sqrt(batch))


def check_gradients(
    grad_fn: Callable[..., Any],
    params: Sequence[Mapping[str, Any]],
    x: Any,
    y: Any,
    *,
    reference: str = "jax",
    cost: CostName = "quadratic",
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
    tolerance: float | None = None,
    fd_mode: str = "all",
    directions: int = 8,
    seed: int = 0,
    layout: str = "jaxmlp",
) -> GradientReport:
    """Compare ``grad_fn``'s gradient with the gradient of the jaxmlp ``cost`` at two batch sizes, leaf by leaf.

    ``x`` ``(B, n_0)`` float pixels in [0, 1], ``y`` ``(B,)`` integer labels, ``params`` the jaxmlp layout.
    ``reference="jax"``: ``jax.grad`` of the cost (float64). ``"finite-differences"``: central differences in
    float64 for every parameter (``fd_mode="all"``) or along ``directions`` random unit directions per leaf
    (``fd_mode="directions"``, much faster; the second batch always uses this). ``tolerance`` bounds each leaf's
    relative error (None: ``default_tolerance``). ``layout`` is how ``grad_fn`` is called and what it returns
    (``jaxmlp.gradcheck_layouts``). An exception inside ``grad_fn`` propagates unchanged (with a note on how it
    was called).
    """
    check_choice("reference", reference, REFERENCES)
    check_choice("fd_mode", fd_mode, FD_MODES)
    check_choice("layout", layout, LAYOUTS)
    cost_function(cost, activation=activation, output=output)  # names checked before any work
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("output", output, OUTPUTS)
    directions = check_int(directions, "directions", low=1)
    seed = check_int(seed, "seed", low=0, high=MAX_SEED)
    if tolerance is not None:
        tolerance = _positive(tolerance, "tolerance")
        if tolerance >= 1:  # a relative error of 1 is a gradient as far off as it is long: a sign flip would pass
            raise InputError(f"tolerance must be below 1 (a relative error); got {tolerance:g}")
    if not callable(grad_fn):
        raise InputError(f"grad_fn is a {type(grad_fn).__name__}; expected a callable grad_fn(params, x, y)")
    sizes = check_params(list(params))
    x = check_images(x, "x", n_in=sizes[0], allow_uint8=False)  # the same contract as every entry point
    y = check_labels(y, x.shape[0], "y", num_classes=sizes[-1])
    if reference == "finite-differences":  # the directions are float64 vectors over all parameters, per leaf
        n_params = sum(int(np.size(layer[name])) for layer in params for name in LEAVES)
        check_bytes(
            8 * 2 * len(params) * directions * n_params, f"{directions:,} directions per leaf", "fewer directions"
        )
    np_params = [{name: np.array(layer[name]) for name in LEAVES} for layer in params]  # copies
    dtype = np.result_type(*(leaf for layer in np_params for leaf in layer.values()))
    x, y = np.asarray(x), np.asarray(y)
    batches = [(x, y)]
    if layout != "nielsen":
        batches.append(second_batch(x, y, sizes[-1]))
    batch_sizes = tuple(len(b[1]) for b in batches)
    if tolerance is None:
        tolerance = default_tolerance(reference, dtype, max(batch_sizes))
    kwargs = {"cost": cost, "activation": activation, "output": output}

    notes = [n for n in (conversion_note(layout, cost),) if n]
    if len(batches) > 1:
        notes.append(
            f"also called on a second batch of {batch_sizes[1]} (rows of x, repeats mirrored): a factor that depends "
            "on the batch size (a sum where the mean belongs, a ½ in the cost) can be 1 at one size, not at two"
        )
    else:
        notes.append(
            "one batch: each call sees one example and the checker averages, so no batch-size factor can arise"
        )
    users, compared, problems, methods = [], [], {}, []
    with _precision(dtype):
        for k, (xb, yb) in enumerate(batches):
            user, found, note = call(grad_fn, params, np_params, xb, yb, layout=layout, cost=cost)
            users.append(user)
            for key, problem in found.items():
                problems.setdefault(key, problem)
            if note and note not in notes:
                notes.append(note)
            mode = fd_mode if k == 0 else "directions"
            method, result = _compare(user, np_params, xb, yb, reference, mode, directions, seed, kwargs)
            methods.append(method)
            compared.append(result)

    leaves = []
    for layer in range(1, len(np_params) + 1):
        for name in LEAVES:
            key = (layer, name)
            first = compared[0].get(key, (math.nan, math.nan, None, None))
            rels = tuple(c.get(key, (math.nan, math.nan))[1] for c in compared)
            problem = next((c[key][3] for c in compared if key in c and c[key][3]), None) or problems.get(key)
            passed = problem is None and all(r <= tolerance for r in rels)  # NaN compares False, so NaN fails
            shape = np_params[layer - 1][name].shape
            leaves.append(LeafCheck(layer, name, shape, first[0], first[1], first[2], passed, problem, None, rels[1:]))

    failing = [(leaf.layer, leaf.leaf) for leaf in leaves if not leaf.passed and leaf.problem is None]
    hints: dict[tuple[int, str], str] = {}
    diagnosis: list[str] = []
    if failing:
        hints, diagnosis = _diagnose(users, np_params, batches, failing, leaves, layout, kwargs)
    leaves = [leaf.with_hint(hints.get((leaf.layer, leaf.leaf))) for leaf in leaves]
    method = methods[0] + (f"; second batch: {methods[1]}" if len(methods) > 1 and methods[1] != methods[0] else "")
    return GradientReport(
        reference, method, dtype.name, float(tolerance), tuple(leaves), tuple(problems.get("all", ())),
        layout=layout, batch_sizes=batch_sizes, notes=tuple(notes), diagnosis=tuple(diagnosis),
    )  # fmt: skip


def _compare(
    user: dict,
    params: list,
    x: np.ndarray,
    y: np.ndarray,
    reference: str,
    mode: str,
    directions: int,
    seed: int,
    kwargs: dict[str, Any],
) -> tuple[str, dict]:
    """The reference for one batch vs the user's leaves: ``(method, {key: (max abs, rel, worst, problem)})``."""
    if reference == "jax":
        with jax.enable_x64(True):
            p64 = [{k: jnp.asarray(v, jnp.float64) for k, v in layer.items()} for layer in params]
            ref = grad(p64, jnp.asarray(x, jnp.float64), jnp.asarray(y), **kwargs)
        return "jax.grad (float64)", _compare_elements(user, ref)
    if mode == "all":
        n = sum(leaf.size for layer in params for leaf in layer.values())
        method = f"central finite differences (all {n} parameters)"
        return method, _compare_elements(user, gradcheck_fd.finite_differences(params, x, y, **kwargs))
    method = f"finite differences along {directions} random directions per leaf"
    slopes, vs = gradcheck_fd.directional(params, x, y, directions, seed, **kwargs)
    out = {}
    for key, ref in slopes.items():
        if key in user:
            out[key] = _errors(vs[key] @ user[key].ravel(), ref, index_of=lambda k: (k,))
    return method, out


def _compare_elements(user: dict, ref: Sequence[Mapping[str, Any]]) -> dict:
    out = {}
    for key, r in mistakes.leaves_of(ref).items():
        if key in user:
            out[key] = _errors(user[key], r, index_of=lambda i, shape=r.shape: np.unravel_index(i, shape))
    return out


def _errors(
    got: np.ndarray, ref: np.ndarray, index_of: Callable[[int], Any]
) -> tuple[float, float, tuple[int, ...] | None, str | None]:
    """Max |got − ref|, the relative error, the index of the worst element, and a problem if got isn't finite."""
    diff = got - ref
    if not np.all(np.isfinite(diff)):
        worst = tuple(int(i) for i in index_of(int(np.argmax(~np.isfinite(diff)))))
        return math.inf, math.nan, worst, "contains NaN or inf"
    if diff.size == 0:
        return 0.0, 0.0, None, None
    worst = int(np.argmax(np.abs(diff)))
    return float(np.abs(diff).max()), tree_relative_error(got, ref), tuple(int(i) for i in index_of(worst)), None


def _diagnose(
    users: list[dict], params: list, batches: list, failing: list, leaves: list, layout: str, kwargs: dict[str, Any]
) -> tuple[dict[tuple[int, str], str], list[str]]:
    """Per failing leaf, the catalogue's explanation; and the report's grouped lines (where the error starts)."""
    sizes = [params[0]["w"].shape[0], *(layer["w"].shape[1] for layer in params)]
    candidates: dict[str | None, Sequence[mistakes.Leaves]] = {
        None: [mistakes.leaves_of(mistakes.mistaken_backprop(params, xb, yb, None, **kwargs)) for xb, yb in batches]
    }
    for m in mistakes.applicable(sizes, **kwargs):
        candidates[m.key] = [
            mistakes.leaves_of(mistakes.mistaken_backprop(params, xb, yb, m.key, **kwargs)) for xb, yb in batches
        ]
    # Nielsen's per-example layout averages over the batch itself: fit factors at "batch size 1"
    batch_sizes = [len(yb) for _, yb in batches] if layout != "nielsen" else [1]
    found = mistakes.explain(users, candidates, batch_sizes, failing)
    nielsen, half = layout != "jaxmlp", layout != "jaxmlp" and kwargs["cost"] == "quadratic"
    hints = {key: e.describe(batch_sizes, nielsen=nielsen, half_cost=half) for key, e in found.items()}
    return hints, diagnosis_lines(leaves, hints, len(params))


@contextlib.contextmanager
def _precision(dtype: np.dtype) -> Iterator[None]:
    """Full-precision float32 matmuls (no TF32/bf16 on GPU/TPU) and, for float64 params, 64-bit JAX."""
    x64 = jax.enable_x64(True) if dtype == np.float64 else contextlib.nullcontext()
    with jax.default_matmul_precision("highest"), x64:
        yield
