"""How the gradient checker calls a learner's ``grad_fn`` and reads back its gradient, in each supported layout.

* ``"jaxmlp"``: ``grad_fn(params, x, y)`` with params ``[{"w": (n_in, n_out), "b": (n_out,)}]``, ``x`` ``(B, 784)``,
  integer ``y`` ``(B,)``; it returns the gradient of the batch-mean cost in the same layout.
* ``"nielsen"``: Nielsen's ``backprop(x, y)`` for ONE example. The checker calls ``grad_fn(net, x, y)`` once per
  example, with ``net`` a ``NielsenParams`` (``biases, weights = net``, or ``net.biases``/``net.weights``/
  ``net.num_layers``), ``w`` as ``(n_out, n_in)``, ``b`` as ``(n_out, 1)``, ``x`` a column ``(784, 1)`` and ``y``
  the one-hot column ``(10, 1)`` (as in Nielsen's ``training_data``). It returns ``(nabla_b, nabla_w)`` for that
  example; the checker averages them over the batch, as ``update_mini_batch`` does.
* ``"nielsen-batch"``: the matrix form (Nielsen's chapter 2 exercise): one call ``grad_fn(net, X, Y)`` with the
  examples as columns, ``X`` ``(784, B)``, ``Y`` ``(10, B)``, returning ``(nabla_b, nabla_w)`` of the batch-mean cost.

Nielsen's gradients are converted: ``w = nabla_w[l].T``, ``b = nabla_b[l][:, 0]``; his quadratic cost
``½‖a − y‖²`` has a ½ that jaxmlp's lacks, so with ``cost="quadratic"`` they are multiplied by 2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxmlp.errors import InputError

LAYOUTS = ("jaxmlp", "nielsen", "nielsen-batch")
LEAVES = ("w", "b")
Leaves = dict[tuple[int, str], np.ndarray]
NIELSEN_HINT = (
    "if your function follows Nielsen's network.py (weights (out, in), column vectors, returns (nabla_b, nabla_w)), "
    "pass layout='nielsen' (CLI: --layout nielsen) for backprop(x, y) of one example, or layout='nielsen-batch' "
    "(--layout nielsen-batch) for a function of a whole batch"
)


class NielsenParams(NamedTuple):
    """The params as Nielsen's ``Network`` holds them: ``biases[l]`` (n_out, 1), ``weights[l]`` (n_out, n_in)."""

    biases: list[np.ndarray]
    weights: list[np.ndarray]

    @property
    def sizes(self) -> list[int]:
        return [self.weights[0].shape[1], *(w.shape[0] for w in self.weights)]

    @property
    def num_layers(self) -> int:
        return len(self.weights) + 1


def conversion_note(layout: str, cost: str) -> str | None:
    """The one-line statement of how a ``layout`` gradient is turned into jaxmlp's (None for jaxmlp's own)."""
    if layout == "jaxmlp":
        return None
    how = (
        "called once per example with x (784, 1), one-hot y (10, 1), then averaged"
        if layout == "nielsen"
        else ("called on the batch as columns, X (784, B), one-hot Y (10, B)")
    )
    half = "; × 2, since Nielsen's quadratic cost ½‖a − y‖² is half of jaxmlp's ‖a − t‖²" if cost == "quadratic" else ""
    return f"layout {layout}: {how}; w = nabla_w[l].T, b = nabla_b[l][:, 0]{half}"


def call(
    grad_fn: Callable[..., Any],
    params: Any,
    np_params: list[dict[str, np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    *,
    layout: str,
    cost: str,
) -> tuple[Leaves, dict[Any, Any], str | None]:
    """Call ``grad_fn`` on the batch ``x``, ``y`` in ``layout``: its leaves in jaxmlp's layout, the problems by leaf
    (``"all"``: with the whole structure) and a note if float64 params came back as a float32 gradient."""
    dtype = np_params[0]["w"].dtype
    if layout == "jaxmlp":  # copies: a grad_fn that changes its inputs in place must not change the check
        fresh = [{k: v.copy() if isinstance(v, np.ndarray) else v for k, v in layer.items()} for layer in params]
        user = _call(grad_fn, layout, fresh, x.copy(), y.copy())
        return (*unpack(user, np_params), float32_note(user, dtype))

    def net() -> NielsenParams:  # a fresh copy for every call
        return NielsenParams([p["b"][:, None].copy() for p in np_params], [p["w"].T.copy() for p in np_params])

    targets = np.eye(np_params[-1]["w"].shape[1], dtype=np_params[-1]["w"].dtype)[y]
    if layout == "nielsen-batch":
        user = _call(grad_fn, layout, net(), x.T.copy(), targets.T.copy())
        leaves, problems = unpack_nielsen(user, np_params)
    else:
        total: Leaves = {}
        user, problems = None, {"all": ()}  # x has at least one row (checked); set for the type checker
        for xi, ti in zip(x, targets, strict=True):
            user = _call(grad_fn, layout, net(), xi[:, None].copy(), ti[:, None].copy())
            leaves, problems = unpack_nielsen(user, np_params)
            if problems["all"] or len(problems) > 1:
                return leaves, problems, float32_note(user, dtype)
            total = {k: total.get(k, 0) + v for k, v in leaves.items()}
        leaves = {k: v / len(x) for k, v in total.items()}
    leaves = {k: v * 2 if cost == "quadratic" else v for k, v in leaves.items()}
    return leaves, problems, float32_note(user, dtype)


def _call(grad_fn: Callable[..., Any], layout: str, *args: Any) -> Any:
    try:
        return grad_fn(*args)
    except Exception as error:  # the learner's own bug: keep their exception and traceback, add how it was called
        if hasattr(error, "add_note"):
            error.add_note(f"jaxmlp.check_gradients called grad_fn{_signature(layout)}")
            if layout == "jaxmlp":
                error.add_note(NIELSEN_HINT)
        raise


def _signature(layout: str) -> str:
    return {
        "jaxmlp": "(params, x, y): params [{'w': (n_in, n_out), 'b': (n_out,)}, ...], x (B, 784), y (B,) integers",
        "nielsen": "(net, x, y) once per example: net.weights[l] (n_out, n_in), net.biases[l] (n_out, 1), "
        "x (784, 1), y one-hot (10, 1)",
        "nielsen-batch": "(net, X, Y): net.weights[l] (n_out, n_in), net.biases[l] (n_out, 1), X (784, B), Y (10, B)",
    }[layout]


def _looks_nielsen(user: Any, params: list[dict[str, np.ndarray]]) -> bool:
    """``(nabla_b, nabla_w)``: two sequences of L arrays, the first bias of shape (n_1, 1) or w of shape (n_1, n_0)."""
    if not isinstance(user, Sequence) or isinstance(user, str | Mapping) or len(user) != 2:
        return False
    nb, nw = user
    if not all(isinstance(s, Sequence) and len(s) == len(params) for s in (nb, nw)):
        return False
    n_out, n_in = params[0]["w"].shape[1], params[0]["w"].shape[0]
    return np.shape(nb[0]) == (n_out, 1) or (np.shape(nw[0]) == (n_out, n_in) and n_out != n_in)


def unpack(user: Any, params: list[dict[str, np.ndarray]]) -> tuple[Leaves, dict[Any, Any]]:
    """The user's leaves that match params in structure and shape, and a readable message for each that doesn't."""
    general: list[str] = []
    if _looks_nielsen(user, params):
        raise InputError(
            "grad_fn returned Nielsen's (nabla_b, nabla_w) with (out, in) weights; pass layout='nielsen-batch' "
            "(CLI: --layout nielsen-batch), or layout='nielsen' (--layout nielsen) for backprop(x, y) of one example"
        )
    if isinstance(user, Mapping) or not isinstance(user, Sequence):
        general.append(
            f"grad_fn returned a {type(user).__name__}; expected a list with one {{'w': ..., 'b': ...}} dict "
            f"per layer, like params"
        )
        user = []
    elif len(user) != len(params):
        general.append(f"grad_fn returned {len(user)} layers; params has {len(params)}")
    leaves, problems = {}, {}
    for layer, (expected, got) in enumerate(zip(params, user, strict=False), start=1):
        if not isinstance(got, Mapping):
            general.append(f"layer {layer}: got a {type(got).__name__}; expected a dict {{'w': ..., 'b': ...}}")
            continue
        for name in LEAVES:
            if name not in got:
                problems[layer, name] = f"missing (the layer's keys are {sorted(map(str, got))})"
                continue
            value, problem = _leaf(got[name], expected[name].shape)
            if problem:
                problems[layer, name] = problem
            else:
                leaves[layer, name] = value
    return leaves, _finish(leaves, problems, general, params)


def unpack_nielsen(user: Any, params: list[dict[str, np.ndarray]]) -> tuple[Leaves, dict[Any, Any]]:
    """Nielsen's ``(nabla_b, nabla_w)``: converted to jaxmlp leaves (``w = nabla_w.T``, ``b = nabla_b[:, 0]``)."""
    general: list[str] = []
    leaves, problems = {}, {}
    if isinstance(user, list) and user and all(isinstance(g, Mapping) for g in user):
        raise InputError(
            "grad_fn returned jaxmlp's [{'w', 'b'}, ...] layout; pass layout='jaxmlp' (CLI: --layout jaxmlp)"
        )
    if isinstance(user, Mapping | str) or not isinstance(user, Sequence) or len(user) != 2:
        general.append(f"grad_fn returned a {type(user).__name__}; expected the pair (nabla_b, nabla_w), as in Nielsen")
    elif not all(isinstance(s, Sequence) and len(s) == len(params) for s in user):
        got = [len(s) if isinstance(s, Sequence) else type(s).__name__ for s in user]
        general.append(f"grad_fn returned (nabla_b, nabla_w) of lengths {got}; expected {len(params)} layers each")
    else:
        for layer, (expected, b, w) in enumerate(zip(params, *user, strict=True), start=1):
            n_in, n_out = expected["w"].shape
            value, problem = _leaf(w, (n_out, n_in), nielsen=True)
            problems.update({(layer, "w"): problem} if problem else {})
            leaves.update({} if problem else {(layer, "w"): value.T})
            if np.shape(b) == (n_out,):
                b = np.asarray(b)[:, None]
            value, problem = _leaf(b, (n_out, 1), nielsen=True)
            problems.update({(layer, "b"): problem} if problem else {})
            leaves.update({} if problem else {(layer, "b"): value[:, 0]})
    return leaves, _finish(leaves, problems, general, params)


def _leaf(raw: Any, shape: tuple[int, ...], *, nielsen: bool = False) -> tuple[np.ndarray, str | None]:
    try:
        value = np.asarray(raw)
    except (TypeError, ValueError):
        return np.zeros(0), f"not an array of numbers (got {type(raw).__name__})"
    if np.iscomplexobj(value):
        return value, f"has complex dtype {value.dtype}; a gradient of a real cost is real: return real arrays"
    if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
        return value, f"not an array of numbers (got dtype {value.dtype})"
    if value.shape != shape:
        hint = ""
        if value.shape == shape[::-1]:
            hint = " (Nielsen's (n_out, n_in))" if nielsen else " — transposed?"
        elif value.shape[1:] == shape:
            hint = " — one gradient per example? average over the batch axis"
        return value, f"shape {value.shape} but expected {shape}{hint}"
    return value.astype(np.float64), None


def _finish(leaves: Leaves, problems: dict[Any, Any], general: list[str], params: list[dict[str, np.ndarray]]) -> dict:
    for layer in range(1, len(params) + 1):
        for name in LEAVES:
            if (layer, name) not in leaves and (layer, name) not in problems:
                problems[layer, name] = "not compared (see above)" if general else "missing"
    problems["all"] = tuple(general)
    return problems


def float32_note(user: Any, dtype: np.dtype) -> str | None:
    """A note when float64 params came back as a float32 gradient (the learner's arithmetic ran in float32)."""
    if dtype != np.float64:
        return None
    arrays = [np.asarray(v) for v in _flatten(user)]
    if any(a.dtype in (np.float32, np.float16) for a in arrays):
        return (
            "grad_fn returned float32 arrays for float64 params: its arithmetic ran in float32 "
            "(with JAX: jax.config.update('jax_enable_x64', True) or build arrays with dtype=float64)"
        )
    return None


def _flatten(tree: Any) -> list[Any]:
    if isinstance(tree, Mapping):
        return [leaf for v in tree.values() for leaf in _flatten(v)]
    if isinstance(tree, list | tuple):
        return [leaf for v in tree for leaf in _flatten(v)]
    return [tree] if hasattr(tree, "dtype") else []
