"""The one input contract: every entry point checks images, labels, params and numbers with these functions.

Each check raises ``jaxmlp.InputError`` with one line that names the input, what it got and what it expected,
so the same mistake reads the same in ``fit``, ``evaluate``, ``predict``, the costs, the checker and the CLI.

Shapes and dtypes are checked always (they are known even while ``jax.jit`` traces); values (NaN pixels,
labels out of range, NaN weights) only for concrete arrays, so the checkers are safe to call in traced code.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Any

import jax
import jax.core
import jax.numpy as jnp
import numpy as np

from jaxmlp.errors import InputError

IMAGE_SIDE = 28  #: MNIST images are 28 × 28 ...
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE  #: ... = 784 input neurons
NUM_CLASSES = 10  #: digits 0..9, one output neuron each
MAX_SEED = 2**63 - 1  #: seeds are stored as int64 in checkpoints and JSON


def is_traced(x: Any) -> bool:
    """True while ``x`` is an abstract value inside ``jax.jit``/``jax.grad``/``jax.vmap`` (values unknown)."""
    return isinstance(x, jax.core.Tracer)


def check_array(x: Any, name: str) -> None:
    """``x`` must be a NumPy or JAX array (lists and scalars are ambiguous about shape and dtype)."""
    if not isinstance(x, np.ndarray | jax.Array):
        raise InputError(f"{name} is a {type(x).__name__}; expected a numpy.ndarray or jax.Array")


def to_float(x: Any) -> Any:
    """Pixels as floats in [0, 1]: uint8 ``0..255`` becomes float32 ``/ 255``; float pixels pass through unchanged.

    NumPy in, NumPy out; JAX in (traced included), JAX out. Any other dtype is an ``InputError``.
    """
    if isinstance(x, list | tuple):
        x = np.asarray(x)
    check_array(x, "x")
    if x.dtype == np.uint8:
        xp = jnp if isinstance(x, jax.Array) else np
        return x.astype(xp.float32) / xp.float32(255.0)
    if not np.issubdtype(x.dtype, np.floating):
        raise InputError(f"x has dtype {x.dtype}; expected uint8 pixels 0..255 or float pixels in [0, 1]")
    return x


def check_image_shape(
    x: Any, name: str = "x", *, n_in: int = NUM_PIXELS, allow_single: bool = False, allow_uint8: bool = True
) -> None:
    """Static checks only: ``x`` is a non-empty array ``(n, n_in)`` (or ``(n_in,)`` if ``allow_single``) of pixels."""
    check_array(x, name)
    expected = f"(n, {n_in}) or ({n_in},)" if allow_single else f"(n, {n_in})"
    if x.ndim not in ((1, 2) if allow_single else (2,)) or x.shape[-1] != n_in:
        raise InputError(f"{name} has shape {tuple(x.shape)}; expected {expected}")
    if x.ndim == 2 and x.shape[0] == 0:
        raise InputError(f"{name} is empty (shape {tuple(x.shape)}); expected at least one image")
    if x.dtype == np.uint8 and not allow_uint8:
        raise InputError(f"{name} has dtype uint8; expected float pixels in [0, 1] (convert with jaxmlp.to_float)")
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise InputError(f"{name} has dtype {x.dtype}; expected float pixels in [0, 1] or uint8 pixels 0..255")


def check_images(
    x: Any,
    name: str = "x",
    *,
    n_in: int = NUM_PIXELS,
    allow_single: bool = False,
    allow_uint8: bool = True,
    uint8_only: bool = False,
) -> Any:
    """``x`` is ``(n, n_in)`` images (``(n_in,)`` too if ``allow_single``): uint8, or finite floats in [0, 1].

    ``uint8_only`` (the ``Dataset`` arrays): float pixels are refused too. Returns ``x``.
    """
    if uint8_only and isinstance(x, np.ndarray | jax.Array) and x.dtype != np.uint8:
        raise InputError(f"{name} has dtype {x.dtype}; expected uint8 pixels 0..255 (shape (n, {n_in}))")
    check_image_shape(x, name, n_in=n_in, allow_single=allow_single, allow_uint8=allow_uint8)
    if x.dtype != np.uint8 and not is_traced(x):
        values = np.asarray(x)
        if not np.all(np.isfinite(values)):
            bad = int(np.flatnonzero(~np.isfinite(values.reshape(-1)))[0])
            raise InputError(f"{name} has a non-finite pixel ({values.reshape(-1)[bad]}); expected values in [0, 1]")
        low, high = float(values.min()), float(values.max())
        if low < 0 or high > 1:
            raise InputError(
                f"{name} has pixels in [{low:g}, {high:g}]; expected floats in [0, 1] (divide uint8 pixels by 255)"
            )
    return x


def check_labels(y: Any, n: int | None = None, name: str = "y", *, num_classes: int = NUM_CLASSES) -> Any:
    """``y`` is an integer array ``(n,)`` of labels ``0..num_classes-1`` (values checked only when concrete)."""
    check_array(y, name)
    last = num_classes - 1
    if not np.issubdtype(y.dtype, np.integer):
        hint = " (one-hot rows? pass y.argmax(-1))" if y.ndim == 2 else ""
        raise InputError(f"{name} has dtype {y.dtype}; labels must be integers 0..{last}{hint}")
    if y.ndim != 1:
        raise InputError(
            f"{name} has shape {tuple(y.shape)}; expected ({'n' if n is None else n},), one label per image"
        )
    if n is not None and y.shape[0] != n:
        raise InputError(
            f"{name} has {y.shape[0]} labels but there are {n} images; expected ({n},), one label per image"
        )
    if not is_traced(y) and y.shape[0]:
        values = np.asarray(y)
        bad = np.flatnonzero((values < 0) | (values > last))
        if bad.size:
            raise InputError(f"{name} has label {values[bad[0]]} at index {bad[0]}; expected integers 0..{last}")
    return y


def check_label_shape(y: Any, x: Any, name: str = "y", *, num_classes: int = NUM_CLASSES) -> None:
    """Integer labels, one per image of ``x`` (``()`` for a single image ``(n_in,)``); values 0..num_classes-1
    when concrete."""
    check_array(y, name)
    if not np.issubdtype(y.dtype, np.integer):
        raise InputError(f"{name} has dtype {y.dtype}; labels must be integers 0..{num_classes - 1}")
    if tuple(y.shape) != tuple(x.shape[:-1]):
        raise InputError(f"{name} has shape {tuple(y.shape)}; expected {tuple(x.shape[:-1])}, one label per image")
    if not is_traced(y) and y.size:
        check_labels(np.reshape(np.asarray(y), -1), name=name, num_classes=num_classes)


def check_params(params: Any, name: str = "params", *, finite: bool = True) -> tuple[int, ...]:
    """``params`` is ``[{"w": (n_in, n_out), "b": (n_out,)}, ...]`` of float arrays that chain; returns the sizes.

    With ``finite=True`` (and concrete arrays) NaN or infinite weights are an error too.
    """
    if not isinstance(params, list | tuple) or not params:
        got = "an empty list" if isinstance(params, list | tuple) else f"a {type(params).__name__}"
        raise InputError(f"{name} is {got}; expected a list of layers [{{'w': (n_in, n_out), 'b': (n_out,)}}, ...]")
    sizes: list[int] = []
    for i, layer in enumerate(params):
        where = f"{name}[{i}]"
        if not isinstance(layer, dict) or set(layer) != {"w", "b"}:
            got = sorted(map(str, layer)) if isinstance(layer, dict) else type(layer).__name__
            raise InputError(f"{where} is {got}; expected a dict with keys 'b' and 'w'")
        w, b = layer["w"], layer["b"]
        check_array(w, f"{where}['w']")
        check_array(b, f"{where}['b']")
        if w.ndim != 2 or b.shape != (w.shape[1],):
            raise InputError(
                f"{where} has w {tuple(w.shape)} and b {tuple(b.shape)}; expected (n_in, n_out) and (n_out,)"
            )
        for key, leaf in (("w", w), ("b", b)):
            if not np.issubdtype(leaf.dtype, np.floating):
                raise InputError(f"{where}['{key}'] has dtype {leaf.dtype}; expected floating-point weights")
            if finite and not is_traced(leaf) and not np.all(np.isfinite(np.asarray(leaf))):
                raise InputError(f"{where}['{key}'] holds NaN or infinite values; expected finite weights")
        if sizes and sizes[-1] != w.shape[0]:
            raise InputError(f"{where}['w'] takes {w.shape[0]} inputs but the layer before gives {sizes[-1]}")
        sizes.extend([w.shape[0], w.shape[1]] if not sizes else [w.shape[1]])
    return tuple(int(n) for n in sizes)


def check_mnist_network(sizes: tuple[int, ...], name: str = "params") -> tuple[int, ...]:
    """A network that reads MNIST must take 784 pixels and answer with 10 digit classes."""
    if sizes[0] != NUM_PIXELS or sizes[-1] != NUM_CLASSES:
        raise InputError(
            f"{name} has layer sizes {sizes}; an MNIST network needs {NUM_PIXELS} inputs and {NUM_CLASSES} outputs "
            f"(like {NUM_PIXELS},16,16,{NUM_CLASSES})"
        )
    return sizes


def check_memory(sizes: tuple[int, ...], batch: int, *, copies: int = 1) -> int:
    """Refuse a network (``copies`` of it, for an ensemble) that could not fit in this machine's memory; return the
    estimated bytes.

    Estimate: float32 params, their gradient and up to two optimizer moments (4 copies of ``sum n_in·n_out + n_out``)
    plus two ``(batch, n_l)`` activations per layer, per copy. Checked before anything is allocated, so an absurd
    request is refused at once instead of hanging the machine.
    """
    weights = sum(a * b + b for a, b in itertools.pairwise(sizes))
    needed = 4 * (4 * weights + 2 * batch * sum(sizes)) * copies
    what = f"{copies:,} networks of layer sizes" if copies > 1 else "layer sizes"
    what += f" {','.join(map(str, sizes))} ({weights * copies:,} weights)"
    return check_bytes(needed, what, "fewer members" if copies > 1 else "smaller layers")


def check_bytes(needed: int, what: str, remedy: str) -> int:
    """Refuse ``what`` when its estimated ``needed`` bytes exceed this machine's memory, saying so and what to do."""
    available = _physical_memory()
    if available and needed > available:
        raise InputError(
            f"{what} need about {needed / 2**30:,.1f} GiB; this machine has {available / 2**30:,.1f} GiB: "
            f"choose {remedy}"
        )
    return needed


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not on this platform: no limit known
        return 0


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` is a Python or NumPy integer (``bool`` is not) in ``[low, high]``; returns it as ``int``."""
    if low == 1 and high is None:
        kind = "a positive integer"
    elif low is not None and high is not None:
        kind = f"an integer in {low}..{high}"
    else:
        kind = f"an integer >= {low}" if low is not None else "an integer"
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} must be {kind}; got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InputError(f"{name} must be {kind}; got {value}")
    return int(value)


def check_positive_number(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """``value`` is a finite real number (NumPy scalars included, ``bool`` not), positive (or zero if allowed)."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)
    number = float(value) if ok else math.nan
    if not (math.isfinite(number) and (number > 0 or (allow_zero and number == 0))):
        kind = "a non-negative number" if allow_zero else "a positive number"
        raise InputError(f"{name} must be {kind}; got {value!r}")
    return number


def check_choice(name: str, value: Any, choices: Any) -> Any:
    """``value`` is one of ``choices`` (names from a table such as ``ACTIVATIONS``)."""
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value
