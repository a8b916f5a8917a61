"""Small input checkers shared by the public entry points; each raises one-line ``TypeError``/``ValueError``.

Shapes and dtypes are checked always (they are known even while ``jax.jit`` traces); the values (NaN pixels,
labels out of 0..9) only for concrete arrays, so the checkers are safe to call inside traced code.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

NUM_PIXELS = 784
NUM_CLASSES = 10


def is_traced(x: Any) -> bool:
    """True while ``x`` is an abstract value inside ``jax.jit``/``jax.grad``/``jax.vmap`` (values unknown)."""
    return isinstance(x, jax.core.Tracer)


def check_array(x: Any, name: str) -> None:
    """``x`` must be a NumPy or JAX array (lists and scalars are ambiguous about shape and dtype)."""
    if not isinstance(x, np.ndarray | jax.Array):
        raise TypeError(f"{name} is a {type(x).__name__}; expected a numpy or jax array")


def check_image_shape(
    x: Any, name: str = "x", *, n_in: int = NUM_PIXELS, allow_single: bool = False, allow_uint8: bool = True
) -> None:
    """Static checks only: ``x`` is a non-empty array ``(n, n_in)`` (or ``(n_in,)`` if ``allow_single``) of pixels."""
    check_array(x, name)
    expected = f"(n, {n_in}) or ({n_in},)" if allow_single else f"(n, {n_in})"
    if x.ndim not in ((1, 2) if allow_single else (2,)) or x.shape[-1] != n_in:
        raise ValueError(f"{name} has shape {tuple(x.shape)}; expected {expected}")
    if x.ndim == 2 and x.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}); expected at least one image")
    if x.dtype == np.uint8 and not allow_uint8:
        raise TypeError(f"{name} has dtype uint8; expected float pixels in [0, 1] (convert with jaxmlp.to_float)")
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} has dtype {x.dtype}; expected float pixels in [0, 1] or uint8 pixels 0..255")


def check_images(
    x: Any, name: str = "x", *, n_in: int = NUM_PIXELS, allow_single: bool = False, allow_uint8: bool = True
) -> Any:
    """``x`` is ``(n, n_in)`` images (``(n_in,)`` too if ``allow_single``): uint8, or finite floats in [0, 1]."""
    check_image_shape(x, name, n_in=n_in, allow_single=allow_single, allow_uint8=allow_uint8)
    if x.dtype != np.uint8 and not is_traced(x):
        values = np.asarray(x)
        if not np.all(np.isfinite(values)):
            bad = int(np.flatnonzero(~np.isfinite(values.reshape(-1)))[0])
            raise ValueError(f"{name} has a non-finite pixel ({values.reshape(-1)[bad]}); expected values in [0, 1]")
        low, high = float(values.min()), float(values.max())
        if low < 0 or high > 1:
            raise ValueError(
                f"{name} has pixels in [{low:g}, {high:g}]; expected floats in [0, 1] (divide uint8 pixels by 255)"
            )
    return x


def check_labels(y: Any, n: int | None = None, name: str = "y") -> Any:
    """``y`` is an integer array ``(n,)`` of digits 0..9 (values checked only when concrete)."""
    check_array(y, name)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} has dtype {y.dtype}; expected integer labels 0..9")
    if y.ndim != 1 or (n is not None and y.shape[0] != n):
        raise ValueError(
            f"{name} has shape {tuple(y.shape)}; expected ({'n' if n is None else n},), one label per image"
        )
    if not is_traced(y) and y.shape[0]:
        values = np.asarray(y)
        bad = np.flatnonzero((values < 0) | (values >= NUM_CLASSES))
        if bad.size:
            raise ValueError(f"{name} has label {values[bad[0]]} at index {bad[0]}; expected integers 0..9")
    return y


def check_params(params: Any, name: str = "params", *, finite: bool = True) -> tuple[int, ...]:
    """``params`` is ``[{"w": (n_in, n_out), "b": (n_out,)}, ...]`` of float arrays that chain; returns the sizes.

    With ``finite=True`` (and concrete arrays) NaN or infinite weights are an error too.
    """
    if not isinstance(params, list | tuple) or not params:
        raise TypeError(f"{name} is a {type(params).__name__}; expected a list of layers [{{'w': .., 'b': ..}}, ...]")
    sizes: list[int] = []
    for i, layer in enumerate(params):
        where = f"{name}[{i}]"
        if not isinstance(layer, dict) or set(layer) != {"w", "b"}:
            got = sorted(layer) if isinstance(layer, dict) else type(layer).__name__
            raise TypeError(f"{where} is {got}; expected a dict with keys 'b' and 'w'")
        w, b = layer["w"], layer["b"]
        check_array(w, f"{where}['w']")
        check_array(b, f"{where}['b']")
        if w.ndim != 2 or b.shape != (w.shape[1],):
            raise ValueError(
                f"{where} has w {tuple(w.shape)} and b {tuple(b.shape)}; expected (n_in, n_out) and (n_out,)"
            )
        for key, leaf in (("w", w), ("b", b)):
            if not np.issubdtype(leaf.dtype, np.floating):
                raise TypeError(f"{where}['{key}'] has dtype {leaf.dtype}; expected floating-point weights")
            if finite and not is_traced(leaf) and not np.all(np.isfinite(np.asarray(leaf))):
                raise ValueError(f"{where}['{key}'] holds NaN or infinite values; expected finite weights")
        if sizes and sizes[-1] != w.shape[0]:
            raise ValueError(f"{where}['w'] takes {w.shape[0]} inputs but the layer before gives {sizes[-1]}")
        sizes.extend([w.shape[0], w.shape[1]] if not sizes else [w.shape[1]])
    return tuple(int(n) for n in sizes)


def check_label_shape(y: Any, x: Any, name: str = "y") -> None:
    """Static checks only: integer labels, one per image of ``x`` (``()`` for a single image ``(n_in,)``)."""
    check_array(y, name)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} has dtype {y.dtype}; expected integer labels 0..9")
    if tuple(y.shape) != tuple(x.shape[:-1]):
        raise ValueError(f"{name} has shape {tuple(y.shape)}; expected {tuple(x.shape[:-1])}, one label per image")
