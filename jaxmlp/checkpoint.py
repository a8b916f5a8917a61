"""Parameters and resumable training state on disk: ``.npz`` files with one array per leaf and a JSON ``meta``.

* ``save_params``/``load_params``: ``layers/0/w``, ``layers/0/b``, ... plus meta (config, versions).
* ``save_state``/``load_state``: a ``--resume`` checkpoint: ``params/layers/...``, the optimizer state as
  ``opt_state/<jax.tree_util path>``, ``step``, ``epoch`` and the raw RNG ``key``, plus the config it belongs to.

No pickle either way (``allow_pickle=False``); files are written atomically (temp file, fsync, rename), so an
interrupted save never leaves a half-written file behind, and non-finite parameters are never written.
Loading checks the structure, shapes and dtypes and names what differs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxmlp.validate import check_params

if TYPE_CHECKING:
    from jaxmlp.train import TrainConfig, TrainState

META_KEY = "meta.json"
PARAMS_FORMAT = "jaxmlp-params"
STATE_FORMAT = "jaxmlp-state"
FORMAT_VERSION = 1


def versions() -> dict[str, str]:
    """Versions of jaxmlp, jax, optax, numpy and Python (stored in every file, for the record)."""
    import jax
    import optax

    from jaxmlp import __version__

    return {
        "jaxmlp": __version__,
        "jax": jax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


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
    _check_finite(arrays, path)
    meta = {**(meta or {}), "format": PARAMS_FORMAT, "format_version": FORMAT_VERSION, "versions": versions()}
    _write_npz(path, arrays, meta)


def load_params(
    path: str | os.PathLike, *, like: Any = None, expected_sizes: tuple[int, ...] | None = None
) -> tuple[list[dict[str, np.ndarray]], dict[str, Any]]:
    """Read ``(params, meta)`` from a ``save_params`` file (or the params of a ``save_state`` file).

    Checks the layer structure, shapes, dtypes (floating) and finiteness; with ``like`` (params of the
    expected network) every key, shape and dtype must match, with ``expected_sizes`` the layer widths.
    A missing, damaged or mismatched file raises ``ValueError`` naming what differs.
    """
    path = os.fspath(path)
    arrays, meta = _read_npz(path)
    prefix = "params/" if meta.get("format") == STATE_FORMAT else ""
    arrays = {key[len(prefix) :]: a for key, a in arrays.items() if key.startswith(prefix)}
    n_layers = sum(1 for key in arrays if key.endswith("/w"))
    expected = {f"layers/{i}/{name}" for i in range(n_layers) for name in ("w", "b")}
    if n_layers == 0 or set(arrays) != expected:
        raise ValueError(
            f"{path} holds {_diff_keys(set(arrays), expected) or 'no layers'}; expected layers/0/w, layers/0/b, ... "
            "for each layer"
        )
    for key, a in arrays.items():
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"{path}: {key} has dtype {a.dtype}; expected floating-point weights")
    _check_finite(arrays, path, verb="holds")
    params = [{"w": arrays[f"layers/{i}/w"], "b": arrays[f"layers/{i}/b"]} for i in range(n_layers)]
    try:
        sizes = check_params(params)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None
    if expected_sizes is not None and sizes != tuple(expected_sizes):
        raise ValueError(f"{path} holds a network with layer sizes {sizes}; expected {tuple(expected_sizes)}")
    if like is not None:
        _match(path, arrays, flatten_params(like))
    return params, meta


def save_state(
    path: str | os.PathLike, state: TrainState, config: TrainConfig, meta: dict[str, Any] | None = None
) -> None:
    """Write a resumable checkpoint: params, optimizer state, step, epoch, RNG key and ``config``, atomically.

    Refuses (``ValueError``) non-finite parameters or optimizer state, so a good checkpoint is never replaced.
    """
    import jax

    check_params(state.params, "state.params", finite=False)
    arrays = flatten_params(state.params, "params/")
    arrays.update(_flatten_tree(state.opt_state, "opt_state"))
    _check_finite(arrays, path)
    arrays["step"] = np.asarray(state.step)
    arrays["epoch"] = np.asarray(state.epoch, np.int64)
    arrays["key"] = np.asarray(jax.random.key_data(state.key))
    meta = {
        **(meta or {}),
        "format": STATE_FORMAT,
        "format_version": FORMAT_VERSION,
        "config": _config_dict(config),
        "versions": versions(),
    }
    _write_npz(path, arrays, meta)


def load_state(
    path: str | os.PathLike, config: TrainConfig | None = None
) -> tuple[TrainState, TrainConfig, dict[str, Any]]:
    """Read ``(state, config, meta)`` from a ``save_state`` checkpoint, to continue with ``fit(..., state=state)``.

    ``config=None`` takes the stored config; a different ``config`` is a ``ValueError`` naming the fields that
    differ (resuming must not silently change the run). The arrays are restored into the structure of a freshly
    initialised state for that config, and every missing key, extra key, shape or dtype mismatch is named.
    """
    import jax
    import jax.numpy as jnp

    from jaxmlp.train import TrainConfig, TrainState, init_state

    path = os.fspath(path)
    arrays, meta = _read_npz(path)
    if meta.get("format") != STATE_FORMAT:
        raise ValueError(f"{path} is not a resume checkpoint (format {meta.get('format')!r}); expected {STATE_FORMAT}")
    stored = meta.get("config")
    if not isinstance(stored, dict):
        raise ValueError(f"{path} stores no training config; expected one in its meta")
    if config is None:
        try:
            config = TrainConfig.from_dict(stored)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path} stores an invalid config: {error}") from None
    differs = [
        f"{k}={stored.get(k)!r} (this run: {v!r})" for k, v in _config_dict(config).items() if stored.get(k) != v
    ]
    if differs:
        raise ValueError(f"{path} was saved with a different config: {', '.join(differs)}; resume with the same config")

    fresh = init_state(config)
    expected = {**flatten_params(fresh.params, "params/"), **_flatten_tree(fresh.opt_state, "opt_state")}
    expected.update(step=np.asarray(fresh.step), epoch=np.asarray(0, np.int64))
    expected["key"] = np.asarray(jax.random.key_data(fresh.key))
    _match(path, arrays, expected)
    _check_finite({k: a for k, a in arrays.items() if k.startswith(("params/", "opt_state/"))}, path, verb="holds")

    n_layers = len(fresh.params)
    params = [{name: jnp.asarray(arrays[f"params/layers/{i}/{name}"]) for name in ("w", "b")} for i in range(n_layers)]
    opt_paths = [p for p, _ in jax.tree_util.tree_flatten_with_path(fresh.opt_state)[0]]
    opt_leaves = [jnp.asarray(arrays[f"opt_state/{jax.tree_util.keystr(p)}"]) for p in opt_paths]
    opt_state = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(fresh.opt_state), opt_leaves)
    key = jax.random.wrap_key_data(jnp.asarray(arrays["key"]), impl=jax.random.key_impl(fresh.key))
    epoch = int(arrays["epoch"])
    if not 0 <= epoch <= config.epochs:
        raise ValueError(f"{path} is at epoch {epoch}; expected 0..{config.epochs}")
    return TrainState(params, opt_state, jnp.asarray(arrays["step"]), key, epoch), config, meta


def atomic_write(path: str | os.PathLike, write: Any) -> None:
    """Call ``write(file)`` on a temp file beside ``path``, fsync it, then rename it over ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _config_dict(config: TrainConfig) -> dict[str, Any]:
    """The config as it round-trips through JSON (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _flatten_tree(tree: Any, prefix: str) -> dict[str, np.ndarray]:
    import jax

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {f"{prefix}/{jax.tree_util.keystr(p)}": np.asarray(leaf) for p, leaf in leaves}


def _check_finite(arrays: dict[str, np.ndarray], path: Any, verb: str = "refusing to save") -> None:
    for key, a in arrays.items():
        if np.issubdtype(a.dtype, np.inexact) and not np.all(np.isfinite(a)):
            if verb == "holds":
                raise ValueError(f"{os.fspath(path)}: {key} holds NaN or infinite values; expected finite numbers")
            raise ValueError(f"refusing to save non-finite values ({key}) to {os.fspath(path)}")


def _write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    arrays = {**arrays, META_KEY: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _read_npz(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if not os.path.isfile(path):
        raise ValueError(f"no checkpoint file at {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode()) if META_KEY in arrays else {}
    except Exception as error:  # BadZipFile, EOFError, ValueError, JSONDecodeError, ...: all mean a damaged file
        message = f"{type(error).__name__}: {error}".splitlines()[0]
        raise ValueError(f"{path} is not a readable jaxmlp checkpoint ({message})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} has a damaged meta entry; expected a JSON object")
    return arrays, meta


def _diff_keys(got: set[str], expected: set[str]) -> str:
    missing, extra = sorted(expected - got), sorted(got - expected)
    parts = ([f"missing {', '.join(missing[:4])}"] if missing else []) + (
        [f"unexpected {', '.join(extra[:4])}"] if extra else []
    )
    return "; ".join(parts)


def _match(path: str, arrays: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    """Each expected key present with the expected shape and dtype, and nothing else; else name the difference."""
    differs = _diff_keys(set(arrays), set(expected))
    if differs:
        raise ValueError(f"{path} does not match the expected structure: {differs}")
    for key, want in expected.items():
        got = arrays[key]
        if got.shape != want.shape or got.dtype != want.dtype:
            raise ValueError(
                f"{path}: {key} has shape {got.shape} and dtype {got.dtype}; expected {want.shape} and {want.dtype}"
            )
