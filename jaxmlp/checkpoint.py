"""Parameters on disk: ``.npz`` files with one array per leaf and a JSON ``meta`` entry.

* ``save_params``/``load_params``: ``layers/0/w``, ``layers/0/b``, ... plus meta (config, versions). Keys count
  from 0 like the Python list ``params``; reports and Nielsen's book count layer ``l = 1..L`` (``params[l - 1]``).
* The npz helpers here also serve ``jaxmlp.resume`` (the ``--resume`` training state).

No pickle either way (``allow_pickle=False``); files are written atomically (temp file, fsync, rename), so an
interrupted save never leaves a half-written file behind, and non-finite parameters are never written.
Loading checks the structure, shapes and dtypes and names what differs.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from jaxmlp.errors import InputError
from jaxmlp.files import atomic_write, versions
from jaxmlp.validate import check_mnist_network, check_params

META_KEY = "meta.json"
PARAMS_FORMAT = "jaxmlp-params"
STATE_FORMAT = "jaxmlp-state"
FORMAT_VERSION = 1
STATE_FORMAT_VERSION = 2  # resume checkpoints (jaxmlp.resume); 2: "gd" keeps no optimizer state, history stored
#: The newest format of each kind of file that this jaxmlp can read.
FORMAT_VERSION_READ_MAX = {PARAMS_FORMAT: FORMAT_VERSION, STATE_FORMAT: STATE_FORMAT_VERSION}


def flatten_params(params: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """``[{"w": .., "b": ..}, ...]`` → ``{"layers/0/w": .., "layers/0/b": .., ...}`` as NumPy arrays."""
    return {
        f"{prefix}layers/{i}/{name}": np.asarray(layer[name]) for i, layer in enumerate(params) for name in ("w", "b")
    }


def save_params(path: str | os.PathLike, params: Any, meta: dict[str, Any] | None = None) -> None:
    """Write ``params`` and JSON-serialisable ``meta`` (plus format and versions) to ``path`` atomically.

    Refuses (``ValueError``) non-finite parameters, so a good file is never replaced by NaNs.
    """
    check_params(params, finite=False)
    arrays = flatten_params(params)
    check_finite(arrays, path)
    meta = {**(meta or {}), "format": PARAMS_FORMAT, "format_version": FORMAT_VERSION, "versions": versions()}
    write_npz(path, arrays, meta)


def load_params(
    path: str | os.PathLike, *, like: Any = None, expected_sizes: tuple[int, ...] | None = None
) -> tuple[list[dict[str, np.ndarray]], dict[str, Any]]:
    """Read ``(params, meta)`` from a ``save_params`` file (or the params of a ``save_state`` file).

    Checks the layer structure, shapes, dtypes (floating) and finiteness; with ``like`` (params of the
    expected network) every key, shape and dtype must match, with ``expected_sizes`` the layer widths.
    A missing, damaged or mismatched file raises ``ValueError`` naming what differs.
    """
    path = os.fspath(path)
    arrays, meta = read_npz(path)
    written = meta.get("format_version", FORMAT_VERSION)
    if not isinstance(written, int) or written > FORMAT_VERSION_READ_MAX.get(str(meta.get("format")), FORMAT_VERSION):
        raise InputError(
            f"{path} was written in format {written!r}, newer than this jaxmlp reads; upgrade jaxmlp to load it"
        )
    prefix = "params/" if meta.get("format") == STATE_FORMAT else ""
    arrays = {key[len(prefix) :]: a for key, a in arrays.items() if key.startswith(prefix)}
    n_layers = sum(1 for key in arrays if key.endswith("/w"))
    expected = {f"layers/{i}/{name}" for i in range(n_layers) for name in ("w", "b")}
    if n_layers == 0 or set(arrays) != expected:
        raise InputError(
            f"{path} holds {_diff_keys(set(arrays), expected) or 'no layers'}; expected layers/0/w, layers/0/b, ... "
            "for each layer"
        )
    for key, a in arrays.items():
        if not np.issubdtype(a.dtype, np.floating):
            raise InputError(f"{path}: {key} has dtype {a.dtype}; expected floating-point weights")
    check_finite(arrays, path, verb="holds")
    params = [{"w": arrays[f"layers/{i}/w"], "b": arrays[f"layers/{i}/b"]} for i in range(n_layers)]
    try:
        sizes = check_params(params)
    except (TypeError, ValueError) as error:
        raise InputError(f"{path}: {error}") from None
    if expected_sizes is not None and sizes != tuple(expected_sizes):
        raise InputError(f"{path} holds a network with layer sizes {sizes}; expected {tuple(expected_sizes)}")
    if like is not None:
        match_arrays(path, arrays, flatten_params(like))
    return params, meta


def flatten_tree(tree: Any, prefix: str) -> dict[str, np.ndarray]:
    import jax

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {f"{prefix}/{jax.tree_util.keystr(p)}": np.asarray(leaf) for p, leaf in leaves}


def check_finite(arrays: dict[str, np.ndarray], path: Any, verb: str = "refusing to save") -> None:
    for key, a in arrays.items():
        if np.issubdtype(a.dtype, np.inexact) and not np.all(np.isfinite(a)):
            if verb == "holds":
                raise InputError(f"{os.fspath(path)}: {key} holds NaN or infinite values; expected finite numbers")
            raise InputError(f"refusing to save non-finite values ({key}) to {os.fspath(path)}")


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    arrays = {**arrays, META_KEY: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    members: dict[str, Any] = arrays  # np.savez's stubs mistake the arrays for its allow_pickle flag
    atomic_write(path, lambda f: np.savez(f, **members))


def read_npz(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if not os.path.isfile(path):
        inside = os.path.join(path, "params.npz")
        hint = f" (did you mean {inside}?)" if os.path.isfile(inside) else ""
        raise InputError(f"no checkpoint file at {path}{hint}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode()) if META_KEY in arrays else {}
    except Exception as error:  # BadZipFile, EOFError, ValueError, JSONDecodeError, ...: all mean a damaged file
        message = f"{type(error).__name__}: {error}".splitlines()[0]
        if "pickled" in message:  # NumPy's guess for any file that is not .npy/.npz; never suggest unsafe loading
            message = "not a NumPy .npz archive of arrays"
        raise InputError(f"{path} is not a readable jaxmlp checkpoint ({message})") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path} has a damaged meta entry; expected a JSON object")
    return arrays, meta


def _diff_keys(got: set[str], expected: set[str]) -> str:
    missing, extra = sorted(expected - got), sorted(got - expected)
    parts = ([f"missing {', '.join(missing[:4])}"] if missing else []) + (
        [f"unexpected {', '.join(extra[:4])}"] if extra else []
    )
    return "; ".join(parts)


def match_arrays(path: str, arrays: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    """Each expected key present with the expected shape and dtype, and nothing else; else name the difference."""
    differs = _diff_keys(set(arrays), set(expected))
    if differs:
        raise InputError(f"{path} does not match the expected structure: {differs}")
    for key, want in expected.items():
        got = arrays[key]
        if got.shape != want.shape or got.dtype != want.dtype:
            raise InputError(
                f"{path}: {key} has shape {got.shape} and dtype {got.dtype}; expected {want.shape} and {want.dtype}"
            )


def load_network(path: str | os.PathLike[str]) -> tuple[list[dict[str, np.ndarray]], Any, dict[str, Any]]:
    """``(params, config, meta)`` of a trained MNIST network in a ``save_params`` (or resume) file.

    ``config`` is the ``TrainConfig`` it was trained with (its activation, output and cost are what matter when
    using it), with ``sizes`` taken from the params; the network must read 784 pixels and answer 10 digits.
    """
    from jaxmlp.config import TrainConfig

    params, meta = load_params(path)
    sizes = check_mnist_network(check_params(params), os.fspath(path))
    stored = meta.get("config", {})
    try:
        config = TrainConfig.from_dict({**(stored if isinstance(stored, dict) else {}), "sizes": sizes})
    except InputError as error:
        raise InputError(f"{os.fspath(path)} stores an invalid config: {error}") from None
    return params, config, meta
