"""Check a gradient, leaf by leaf, against ``jax.grad`` or against finite differences.

``check_gradients(grad_fn, params, x, y)`` calls ``grad_fn(params, x, y)`` (your derivation: NumPy or JAX arrays in
the params layout ``[{"w": (n_in, n_out), "b": (n_out,)}, ...]``) and compares every leaf with a reference. For each
leaf it reports the largest absolute error, the relative error ``‖g − g_ref‖ / max(‖g_ref‖, tiny)`` (Frobenius norms)
and where the worst element is. Layer ``l`` is ``params[l - 1]`` (the input is layer 0), as in Nielsen's book.

Default tolerances on the relative error (``DEFAULT_TOLERANCES``), by the params' dtype:

* float64 vs ``jax.grad``: 1e-12. Both sides do the same arithmetic in a different order; rounding (ε ≈ 1.1e-16)
  amplified by sums of a few hundred terms and saturated sigmoids stays around 1e-15..1e-13.
* float64 vs finite differences: 1e-6. Central differences with step h ≈ ε^{1/3} have truncation error O(h²) and
  rounding error O(ε/h), both about 1e-11 relative to the cost's scale; 1e-6 leaves room for curvature.
* float32 (either reference): 1e-5. ε ≈ 6e-8, amplified by 784-term dot products and saturated units.
  (Finite differences are always taken in float64, so the float32 gradient's own rounding dominates.)

Both sides run with ``jax.default_matmul_precision("highest")``: on GPU/TPU, float32 matmuls otherwise default to
TF32/bf16 passes (about 1e-3 relative), which would drown any derivation error in rounding. With float64 params,
64-bit JAX is switched on for the duration of the check only (``jax.enable_x64``), ``grad_fn`` included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.costs import cost_function
from jaxmlp.errors import InputError
from jaxmlp.grads import grad, per_example_grads, tree_relative_error
from jaxmlp.validate import check_images, check_labels, check_params

__all__ = ["DEFAULT_TOLERANCES", "GradientReport", "LeafCheck", "check_gradients", "per_example_grads"]

REFERENCES = ("jax", "finite-differences")
FD_MODES = ("all", "directions")
DEFAULT_TOLERANCES: dict[tuple[str, str], float] = {
    ("jax", "float64"): 1e-12,
    ("finite-differences", "float64"): 1e-6,
    ("jax", "float32"): 1e-5,
    ("finite-differences", "float32"): 1e-5,
}
LEAVES = ("w", "b")
_TINY = np.finfo(np.float64).tiny


@dataclasses.dataclass(frozen=True)
class LeafCheck:
    """One leaf's comparison. ``worst_index`` is an element index, or in direction mode the direction's number."""

    layer: int
    leaf: str
    shape: tuple[int, ...]
    max_abs_error: float
    relative_error: float
    worst_index: tuple[int, ...] | None
    passed: bool
    problem: str | None = None
    hint: str | None = None

    @property
    def name(self) -> str:
        return f"layer {self.layer} {self.leaf!r}"


@dataclasses.dataclass(frozen=True)
class GradientReport:
    """The result of ``check_gradients``: one ``LeafCheck`` per leaf, plus any problem with the structure."""

    reference: str
    method: str
    dtype: str
    tolerance: float
    leaves: tuple[LeafCheck, ...]
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.problems and all(leaf.passed for leaf in self.leaves)

    @property
    def failures(self) -> tuple[str, ...]:
        """Names of the leaves that fail, like ``"layer 1 'w'"``."""
        return tuple(leaf.name for leaf in self.leaves if not leaf.passed)

    def leaf(self, layer: int, name: str) -> LeafCheck:
        return next(leaf for leaf in self.leaves if (leaf.layer, leaf.leaf) == (layer, name))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN and inf become ``None``)."""

        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return None
            return list(value) if isinstance(value, tuple) else value

        leaves = [{k: clean(v) for k, v in dataclasses.asdict(leaf).items()} for leaf in self.leaves]
        return {
            "passed": self.passed,
            "reference": self.reference,
            "method": self.method,
            "dtype": self.dtype,
            "tolerance": self.tolerance,
            "problems": list(self.problems),
            "failures": list(self.failures),
            "leaves": leaves,
        }

    def __str__(self) -> str:
        worst = "worst direction" if "direction" in self.method else "worst index"
        header = ("layer", "leaf", "shape", "max abs error", "relative error", worst, "result")
        rows = [
            (
                str(leaf.layer),
                leaf.leaf,
                str(leaf.shape),
                "-" if leaf.problem else f"{leaf.max_abs_error:.3e}",
                "-" if leaf.problem else f"{leaf.relative_error:.3e}",
                "-" if leaf.worst_index is None else str(leaf.worst_index),
                "pass" if leaf.passed else "FAIL",
            )
            for leaf in self.leaves
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        right = {0, 3, 4}  # numbers are right-aligned

        def line(row: Sequence[str]) -> str:
            cells = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            return "  ".join(cells).rstrip()

        lines = [
            f"gradient check against {self.method} ({self.dtype}; pass: relative error <= {self.tolerance:g})",
            line(header),
            line(["-" * w for w in widths]),
            *(line(row) for row in rows),
        ]
        lines += [f"  {problem}" for problem in self.problems]
        lines += [f"  {leaf.name}: {leaf.problem}" for leaf in self.leaves if leaf.problem]
        lines += [f"  {leaf.name}: {leaf.hint}" for leaf in self.leaves if leaf.hint]
        if self.passed:
            lines.append(f"PASS: all {len(self.leaves)} leaves agree")
        else:
            lines.append("FAIL: " + (", ".join(self.failures) or "the gradient's structure is wrong"))
        return "\n".join(lines)


def check_gradients(
    grad_fn: Callable[[Any, Any, Any], Any],
    params: Sequence[Mapping[str, Any]],
    x: Any,
    y: Any,
    *,
    reference: str = "jax",
    cost: str = "quadratic",
    activation: str = "sigmoid",
    output: str = "sigmoid",
    tolerance: float | None = None,
    fd_mode: str = "all",
    directions: int = 8,
    seed: int = 0,
) -> GradientReport:
    """Compare ``grad_fn(params, x, y)`` with the gradient of the jaxmlp ``cost``, leaf by leaf.

    ``reference="jax"``: ``jax.grad`` of the cost. ``reference="finite-differences"``: central differences in
    float64, ``(C(θ + h e_i) − C(θ − h e_i)) / 2h`` for every parameter (``fd_mode="all"``), or for ``directions``
    random unit directions ``v`` per leaf, compared with ``g · v`` (``fd_mode="directions"``, much faster).
    ``tolerance`` bounds each leaf's relative error; ``None`` takes ``DEFAULT_TOLERANCES`` for the params' dtype.
    """
    if reference not in REFERENCES:
        raise InputError(f"reference must be one of {', '.join(REFERENCES)}; got {reference!r}")
    if fd_mode not in FD_MODES:
        raise InputError(f"fd_mode must be one of {', '.join(FD_MODES)}; got {fd_mode!r}")
    if not callable(grad_fn):
        raise InputError(f"grad_fn is a {type(grad_fn).__name__}; expected a callable grad_fn(params, x, y)")
    sizes = check_params(list(params))
    x = check_images(np.asarray(x) if isinstance(x, list) else x, "x", n_in=sizes[0], allow_uint8=False)
    y = check_labels(np.asarray(y) if isinstance(y, list) else y, x.shape[0], "y")
    np_params = [{name: np.asarray(layer[name]) for name in LEAVES} for layer in params]
    dtype = np.result_type(*(leaf for layer in np_params for leaf in layer.values()))
    if tolerance is None:
        if (reference, dtype.name) not in DEFAULT_TOLERANCES:
            raise InputError(f"no default tolerance for {dtype.name} params; pass tolerance=")
        tolerance = DEFAULT_TOLERANCES[reference, dtype.name]
    x, y = np.asarray(x), np.asarray(y)
    kwargs = {"cost": cost, "activation": activation, "output": output}

    with _precision(dtype):
        user_grad = grad_fn(params, x, y)
        user_leaves, problems = _unpack(user_grad, np_params)
        user_leaves = {key: np.asarray(value, np.float64) for key, value in user_leaves.items()}
        ref = None
        if reference == "jax":
            method = "jax.grad"
            ref = grad(jax.tree.map(jnp.asarray, np_params), jnp.asarray(x, dtype), jnp.asarray(y), **kwargs)
        elif fd_mode == "all":
            method = f"central finite differences (all {sum(p.size for p in _iter_leaves(np_params))} parameters)"
            ref = _finite_differences(np_params, x, y, **kwargs)
        else:
            method = f"finite differences along {directions} random directions per leaf"
            compared = _compare_directions(user_leaves, np_params, x, y, directions, seed, **kwargs)
        if ref is not None:
            compared = _compare_elements(user_leaves, ref, np_params)
            ref_leaves = dict(
                zip(_leaf_keys(np_params), (np.asarray(r, np.float64) for r in _iter_leaves(ref)), strict=True)
            )

    leaves = []
    for (layer, name), expected in zip(_leaf_keys(np_params), _iter_leaves(np_params), strict=True):
        max_abs, rel, worst, problem = compared.get((layer, name), (math.nan, math.nan, None, None))
        problem = problem or problems.get((layer, name))
        passed = problem is None and rel <= tolerance  # NaN compares False, so NaN fails
        hint = None
        if not passed and problem is None and ref is not None and (layer, name) in user_leaves:
            hint = diagnose(user_leaves[layer, name], ref_leaves[layer, name], tolerance)
        leaves.append(LeafCheck(layer, name, expected.shape, max_abs, rel, worst, passed, problem, hint))
    return GradientReport(reference, method, dtype.name, float(tolerance), tuple(leaves), problems.get("all", ()))


def diagnose(g: np.ndarray, ref: np.ndarray, tolerance: float) -> str | None:
    """A guess at the derivation mistake behind a failing leaf ``g`` (the reference is ``ref``), or None.

    Recognises a transposed square matrix, and ``g = c * ref`` for a constant ``c`` (the least-squares
    ``c = g·ref / ref·ref``): a sign error, a factor 2 (the cost has no ½), or a batch-size factor.
    """
    norm = max(float(np.linalg.norm(ref)), _TINY)
    if g.ndim == 2 and g.shape[0] == g.shape[1] and np.linalg.norm(g.T - ref) / norm <= tolerance:
        return "equals the reference transposed: check the order of the factors in dC/dw = a^T delta"
    scale = float(np.vdot(g, ref)) / max(float(np.vdot(ref, ref)), _TINY)
    if scale == 0 or np.linalg.norm(g - scale * ref) / norm > max(tolerance, 1e-6):
        return None
    if math.isclose(scale, -1, rel_tol=1e-3):
        return "equals minus the reference: a sign error"
    if math.isclose(scale, 0.5, rel_tol=1e-3) or math.isclose(scale, 2, rel_tol=1e-3):
        return f"equals {scale:.4g} x the reference: a factor 2 (the quadratic cost has no 1/2, so dC/da = 2 (a - y))"
    return f"equals {scale:.4g} x the reference: a constant factor (a sum where a mean over the batch belongs?)"


@contextlib.contextmanager
def _precision(dtype: np.dtype) -> Iterator[None]:
    """Full-precision float32 matmuls (no TF32/bf16 on GPU/TPU) and, for float64 params, 64-bit JAX."""
    x64 = jax.enable_x64(True) if dtype == np.float64 else contextlib.nullcontext()
    with jax.default_matmul_precision("highest"), x64:
        yield


def _leaf_keys(params: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    return [(layer, name) for layer in range(1, len(params) + 1) for name in LEAVES]


def _iter_leaves(params: Sequence[Mapping[str, Any]]) -> list[Any]:
    return [layer[name] for layer in params for name in LEAVES]


def _unpack(user: Any, params: list[dict[str, np.ndarray]]) -> tuple[dict[tuple[int, str], np.ndarray], dict[Any, Any]]:
    """The user's leaves that match params in structure and shape, and a readable message for each that doesn't."""
    problems: dict[Any, Any] = {}
    general = []
    if isinstance(user, Mapping) or not isinstance(user, Sequence):
        general.append(
            f"grad_fn returned a {type(user).__name__}; expected a list with one {{'w': ..., 'b': ...}} dict "
            f"per layer, like params"
        )
        user = []
    elif len(user) != len(params):
        general.append(f"grad_fn returned {len(user)} layers; params has {len(params)}")
    leaves = {}
    for layer, (expected, got) in enumerate(zip(params, user, strict=False), start=1):
        if not isinstance(got, Mapping):
            general.append(f"layer {layer}: got a {type(got).__name__}; expected a dict {{'w': ..., 'b': ...}}")
            continue
        for name in LEAVES:
            key = (layer, name)
            if name not in got:
                problems[key] = f"missing (the layer's keys are {sorted(map(str, got))})"
                continue
            try:
                value = np.asarray(got[name])
                value.astype(np.float64)
            except (TypeError, ValueError):
                problems[key] = f"not an array of numbers (got {type(got[name]).__name__})"
                continue
            shape = expected[name].shape
            if value.shape != shape:
                hint = ""
                if value.shape == shape[::-1]:
                    hint = " — transposed?"
                elif value.shape[1:] == shape:
                    hint = " — one gradient per example? average over the batch axis"
                problems[key] = f"shape {value.shape} but expected {shape}{hint}"
                continue
            leaves[key] = value
    for key in _leaf_keys(params):
        if key not in leaves and key not in problems:
            problems[key] = "not compared (see above)" if general else "missing"
    problems["all"] = tuple(general)
    return leaves, problems


def _compare_elements(
    user: dict[tuple[int, str], np.ndarray], ref: Sequence[Mapping[str, Any]], params: list[dict[str, np.ndarray]]
) -> dict[tuple[int, str], tuple[float, float, tuple[int, ...] | None, str | None]]:
    out = {}
    for key, r in zip(_leaf_keys(params), _iter_leaves(ref), strict=True):
        if key in user:
            r = np.asarray(r, np.float64)
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
    rel = tree_relative_error(got, ref)
    return float(np.abs(diff).max()), rel, tuple(int(i) for i in index_of(worst)), None


def _flat_cost(params: list[dict[str, np.ndarray]], x: np.ndarray, y: np.ndarray, **kwargs: str):
    """The cost as a function of one float64 vector θ of all parameters (leaf order: layer 1 w, b, layer 2 w, ...).

    Call with 64-bit JAX switched on.
    """
    shapes = [leaf.shape for leaf in _iter_leaves(params)]
    offsets = np.cumsum([0, *(leaf.size for leaf in _iter_leaves(params))])
    cost_fn = cost_function(**kwargs)
    x, y = jnp.asarray(x, jnp.float64), jnp.asarray(y)

    def f(theta: jax.Array) -> jax.Array:
        leaves = [theta[offsets[i] : offsets[i + 1]].reshape(shape) for i, shape in enumerate(shapes)]
        return cost_fn([{"w": w, "b": b} for w, b in zip(leaves[::2], leaves[1::2], strict=True)], x, y)

    theta = np.concatenate([leaf.astype(np.float64).ravel() for leaf in _iter_leaves(params)])
    return f, theta, offsets


def _finite_differences(params: list[dict[str, np.ndarray]], x: np.ndarray, y: np.ndarray, **kwargs: str) -> list:
    """∂C/∂θ_i ≈ (C(θ + h_i e_i) − C(θ − h_i e_i)) / 2h_i for every i, with h_i = ε^{1/3} max(1, |θ_i|)."""
    with jax.enable_x64(True):
        f, theta, offsets = _flat_cost(params, x, y, **kwargs)
        h = np.cbrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(theta))
        h = (theta + h) - theta  # a step that is exactly representable

        @jax.jit
        def partials(idx: jax.Array, h_idx: jax.Array) -> jax.Array:
            def one(i: jax.Array, step: jax.Array) -> jax.Array:
                e = jnp.zeros_like(theta).at[i].set(step)
                return (f(theta + e) - f(theta - e)) / (2 * step)

            return jax.vmap(one)(idx, h_idx)

        rows = 512  # parameters perturbed per batched evaluation: 512 copies of θ (13,002 float64) is 53 MB
        grad_flat = np.empty_like(theta)
        for start in range(0, theta.size, rows):
            idx = np.arange(start, start + rows) % theta.size  # the last chunk wraps around: same shape, no recompile
            grad_flat[idx] = np.asarray(partials(jnp.asarray(idx), jnp.asarray(h[idx])))
    leaves = [grad_flat[offsets[i] : offsets[i + 1]].reshape(leaf.shape) for i, leaf in enumerate(_iter_leaves(params))]
    return [{"w": w, "b": b} for w, b in zip(leaves[::2], leaves[1::2], strict=True)]


def _compare_directions(
    user: dict[tuple[int, str], np.ndarray],
    params: list[dict[str, np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    directions: int,
    seed: int,
    **kwargs: str,
) -> dict[tuple[int, str], tuple[float, float, tuple[int, ...] | None, str | None]]:
    """Per leaf: directional derivatives ``(C(θ + hv) − C(θ − hv)) / 2h`` along random unit ``v`` vs ``g · v``."""
    rng = np.random.default_rng(seed)
    keys = _leaf_keys(params)
    with jax.enable_x64(True):
        f, theta, offsets = _flat_cost(params, x, y, **kwargs)
        h = np.cbrt(np.finfo(np.float64).eps) * max(1.0, float(np.abs(theta).max()))
        vs = np.zeros((len(keys), directions, theta.size))  # directions for leaf i are zero outside that leaf
        for i in range(len(keys)):
            v = rng.standard_normal((directions, offsets[i + 1] - offsets[i]))
            vs[i, :, offsets[i] : offsets[i + 1]] = v / np.linalg.norm(v, axis=1, keepdims=True)
        steps = jnp.asarray(h * vs.reshape(-1, theta.size))
        slopes = np.asarray(jax.jit(jax.vmap(lambda s: f(theta + s) - f(theta - s)))(steps)) / (2 * h)
    out = {}
    for i, key in enumerate(keys):
        if key in user:
            ref = slopes[i * directions : (i + 1) * directions]
            got = vs[i, :, offsets[i] : offsets[i + 1]] @ user[key].ravel()
            out[key] = _errors(got, ref, index_of=lambda k: (k,))
    return out
