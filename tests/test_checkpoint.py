"""Checkpoint files: exact round trips, what they store, atomic writes, and no pickle anywhere."""

from __future__ import annotations

import dataclasses
import pathlib
import re

import jax
import numpy as np
import pytest
from helpers import trees_equal

import jaxmlp
from jaxmlp import checkpoint, resume
from jaxmlp.config import TrainConfig
from jaxmlp.epoch import TrainState, init_state

ROOT = pathlib.Path(__file__).resolve().parents[1]
ADAMW = dataclasses.replace(jaxmlp.PRESETS["best"], batch_size=50, epochs=3, shift=1)


@pytest.fixture(scope="module")
def trained_state() -> TrainState:
    """An AdamW state after one epoch on random data: every optimizer leaf is non-trivial."""
    rng = np.random.default_rng(1)
    data = jaxmlp.Dataset(
        rng.integers(0, 256, (200, 784), dtype=np.uint8),
        rng.integers(0, 10, 200),
        rng.integers(0, 256, (20, 784), dtype=np.uint8),
        rng.integers(0, 10, 20),
    )
    states: list[TrainState] = []

    def stop(state: TrainState, history: object) -> None:
        states.append(state)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        jaxmlp.fit(data, ADAMW, on_epoch=stop)
    return states[0]


def test_params_round_trip_is_exact_and_records_config_and_versions(tmp_path: pathlib.Path) -> None:
    params = jaxmlp.init_params(jax.random.key(3), (784, 30, 10))
    config = dataclasses.asdict(TrainConfig(sizes=(784, 30, 10)))
    checkpoint.save_params(tmp_path / "p.npz", params, {"config": config})
    loaded, meta = checkpoint.load_params(tmp_path / "p.npz", like=params, expected_sizes=(784, 30, 10))
    assert trees_equal(params, loaded)
    assert meta["config"]["sizes"] == [784, 30, 10]
    assert meta["format"] == checkpoint.PARAMS_FORMAT
    assert meta["versions"]["jax"] == jax.__version__ and meta["versions"]["jaxmlp"] == jaxmlp.__version__
    with np.load(tmp_path / "p.npz", allow_pickle=False) as npz:  # plain arrays, one per leaf
        assert sorted(npz.files) == ["layers/0/b", "layers/0/w", "layers/1/b", "layers/1/w", "meta.json"]


def test_state_round_trip_restores_every_leaf_key_step_and_epoch(tmp_path: pathlib.Path, trained_state) -> None:
    path = tmp_path / "state.npz"
    resume.save_state(path, trained_state, ADAMW, {"preset": "best"})
    state, config, meta = resume.load_state(path)
    assert config == ADAMW and meta["preset"] == "best"
    assert state.epoch == trained_state.epoch == 1
    assert int(state.step) == int(trained_state.step) == 4  # 200 examples // 50
    assert trees_equal(state.params, trained_state.params)
    assert trees_equal(state.opt_state, trained_state.opt_state)
    assert jax.tree.structure(state.opt_state) == jax.tree.structure(trained_state.opt_state)
    assert np.array_equal(jax.random.key_data(state.key), jax.random.key_data(trained_state.key))
    assert jax.random.key_impl(state.key) == jax.random.key_impl(trained_state.key)
    with np.load(path, allow_pickle=False) as npz:  # optimizer leaves are named by their pytree paths
        assert any(re.fullmatch(r"opt_state/.*\.mu\[0\]\['w'\]", key) for key in npz.files), npz.files


def test_state_file_also_serves_its_params(tmp_path: pathlib.Path, trained_state) -> None:
    resume.save_state(tmp_path / "state.npz", trained_state, ADAMW)
    params, meta = checkpoint.load_params(tmp_path / "state.npz")
    assert trees_equal(params, trained_state.params)
    assert meta["config"]["optimizer"] == "adamw"


def test_resuming_with_the_stored_config_passes_and_any_change_is_named(tmp_path: pathlib.Path, trained_state) -> None:
    path = tmp_path / "state.npz"
    resume.save_state(path, trained_state, ADAMW)
    resume.load_state(path, ADAMW)  # the same config: fine
    with pytest.raises(ValueError, match=r"epochs=3 \(this run: 4\), seed=0 \(this run: 1\)"):
        resume.load_state(path, dataclasses.replace(ADAMW, seed=1, epochs=4))


def test_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "p.npz"
    path.write_bytes(b"old")

    def crash(f: object) -> None:
        f.write(b"half a file")
        raise KeyboardInterrupt  # as if Ctrl-C arrived mid-write

    with pytest.raises(KeyboardInterrupt):
        checkpoint.atomic_write(path, crash)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]


def test_non_finite_state_is_refused_and_the_good_checkpoint_survives(tmp_path: pathlib.Path, trained_state) -> None:
    path = tmp_path / "state.npz"
    resume.save_state(path, trained_state, ADAMW)
    good = path.read_bytes()
    bad = trained_state._replace(params=jax.tree.map(lambda p: p * np.nan, trained_state.params))
    with pytest.raises(ValueError, match="refusing to save non-finite"):
        resume.save_state(path, bad, ADAMW)
    assert path.read_bytes() == good


def test_no_pickle_outside_the_mirror_unpickler() -> None:
    """Only ``jaxmlp/data/mirror.py`` (checksum-verified, restricted unpickler) may touch pickle."""
    offenders = []
    for file in sorted((ROOT / "jaxmlp").rglob("*.py")):
        text = file.read_text()
        mirror = file.relative_to(ROOT).as_posix() == "jaxmlp/data/mirror.py"
        if not mirror and re.search(r"\bimport pickle|\bpickle\.", text):
            offenders.append(f"{file.relative_to(ROOT)} uses pickle")
        if re.search(r"allow_pickle\s*=\s*True", text):
            offenders.append(f"{file.relative_to(ROOT)} sets allow_pickle=True")
    assert offenders == []
    mirror = (ROOT / "jaxmlp/data/mirror.py").read_text()
    assert "class ArrayUnpickler(pickle.Unpickler)" in mirror and "sha256" in mirror.lower()


def test_init_state_is_what_load_state_fills(trained_state) -> None:
    """``load_state`` restores into a fresh state's structure: the shapes agree with a real run's state."""
    fresh = init_state(ADAMW)
    assert jax.tree.structure(fresh.opt_state) == jax.tree.structure(trained_state.opt_state)
    assert [np.shape(x) for x in jax.tree.leaves(fresh)] == [np.shape(x) for x in jax.tree.leaves(trained_state)]
