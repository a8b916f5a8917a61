"""Resumable training state on disk, and what a run keeps when it stops early.

* ``save_state``/``load_state``: a ``--resume`` checkpoint: ``params/layers/...``, the optimizer state as
  ``opt_state/<jax.tree_util path>``, ``step``, ``epoch`` and the raw RNG key, plus the config it belongs to and
  the history so far (so a resumed run's metrics cover the whole run).
* ``save_diverged``: the last finite params of a run that diverged, under a name that cannot be mistaken for
  a finished result (``params.diverged.npz``): a good ``params.npz`` is never replaced by a worse one.

Written atomically (``jaxmlp.files``), no pickle, every key, shape and dtype checked on load.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp.checkpoint import (
    STATE_FORMAT,
    STATE_FORMAT_VERSION,
    check_finite,
    flatten_params,
    flatten_tree,
    match_arrays,
    read_npz,
    save_params,
    write_npz,
)
from jaxmlp.config import TrainConfig
from jaxmlp.epoch import TrainState, init_state
from jaxmlp.errors import InputError
from jaxmlp.files import versions
from jaxmlp.train import History
from jaxmlp.validate import check_params

DIVERGED_NAME = "params.diverged.npz"


def save_state(
    path: str | os.PathLike[str],
    state: TrainState,
    config: TrainConfig,
    meta: dict[str, Any] | None = None,
) -> None:
    """Write a resumable checkpoint: params, optimizer state, step, epoch, RNG key and ``config``, atomically.

    Refuses (``InputError``) non-finite parameters or optimizer state, so a good checkpoint is never replaced.
    """
    check_params(state.params, "state.params", finite=False)
    arrays = flatten_params(state.params, "params/")
    arrays.update(flatten_tree(state.opt_state, "opt_state"))
    check_finite(arrays, path)
    arrays["step"] = np.asarray(state.step)
    arrays["epoch"] = np.asarray(state.epoch, np.int64)
    arrays["key"] = np.asarray(jax.random.key_data(state.key))
    meta = {
        **(meta or {}),
        "format": STATE_FORMAT,
        "format_version": STATE_FORMAT_VERSION,
        "config": config.to_dict(),
        "versions": versions(),
    }
    write_npz(path, arrays, meta)


def load_state(
    path: str | os.PathLike[str], config: TrainConfig | None = None
) -> tuple[TrainState, TrainConfig, dict[str, Any]]:
    """Read ``(state, config, meta)`` from a ``save_state`` checkpoint, to continue with ``fit(..., state=state)``.

    ``config=None`` takes the stored config; a different ``config`` is an ``InputError`` naming the fields that
    differ (resuming must not silently change the run). The arrays are restored into the structure of a freshly
    initialised state for that config, and every missing key, extra key, shape or dtype mismatch is named.
    ``meta["history"]``, when present, is checked to be a well-formed ``History`` record.
    """
    path = os.fspath(path)
    arrays, meta = read_npz(path)
    if meta.get("format") != STATE_FORMAT:
        raise InputError(f"{path} is not a resume checkpoint (format {meta.get('format')!r}); expected {STATE_FORMAT}")
    if meta.get("format_version") != STATE_FORMAT_VERSION:
        raise InputError(
            f"{path} has checkpoint format {meta.get('format_version')!r}; this jaxmlp reads format "
            f"{STATE_FORMAT_VERSION} (start a new run, or resume with the jaxmlp version that wrote it)"
        )
    try:
        stored = TrainConfig.from_dict(meta.get("config"))
        if "history" in meta:
            History.from_dict(meta["history"])
    except InputError as error:
        raise InputError(f"{path} stores an invalid record: {error}") from None
    config = config or stored
    differs = [f"{k}={getattr(stored, k)!r} (this run: {v!r})" for k, v in config.changes_from(stored).items()]
    if differs:
        raise InputError(f"{path} was saved with a different config: {', '.join(differs)}; resume with the same config")

    fresh = init_state(config)
    expected = {**flatten_params(fresh.params, "params/"), **flatten_tree(fresh.opt_state, "opt_state")}
    expected.update(step=np.asarray(fresh.step), epoch=np.asarray(0, np.int64))
    expected["key"] = np.asarray(jax.random.key_data(fresh.key))
    match_arrays(path, arrays, expected)
    check_finite({k: a for k, a in arrays.items() if k.startswith(("params/", "opt_state/"))}, path, verb="holds")

    n_layers = len(fresh.params)
    params = [{name: jnp.asarray(arrays[f"params/layers/{i}/{name}"]) for name in ("w", "b")} for i in range(n_layers)]
    opt_paths = [p for p, _ in jax.tree_util.tree_flatten_with_path(fresh.opt_state)[0]]
    opt_leaves = [jnp.asarray(arrays[f"opt_state/{jax.tree_util.keystr(p)}"]) for p in opt_paths]
    opt_state = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(fresh.opt_state), opt_leaves)
    key = jax.random.wrap_key_data(jnp.asarray(arrays["key"]), impl=jax.random.key_impl(fresh.key))
    epoch = int(arrays["epoch"])
    if not 0 <= epoch <= config.epochs:
        raise InputError(f"{path} is at epoch {epoch}; expected 0..{config.epochs}")
    return TrainState(params, opt_state, jnp.asarray(arrays["step"]), key, epoch), config, meta


def save_diverged(folder: str | os.PathLike[str], state: TrainState, config: TrainConfig, preset: str) -> str:
    """Keep the last finite params of a diverged run as ``FOLDER/params.diverged.npz``; return the path.

    The name says what it is, so neither a person nor ``jaxmlp evaluate``'s default mistakes it for the finished
    ``params.npz`` of this or an earlier run (which stays as it was).
    """
    path = os.path.join(os.fspath(folder), DIVERGED_NAME)
    meta = {"config": config.to_dict(), "preset": preset, "diverged": True, "epoch": state.epoch}
    save_params(path, state.params, meta)
    return path
