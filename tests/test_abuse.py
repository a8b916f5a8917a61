"""Promises kept under abuse: files the user's umask allows, caches that rebuild, no divergence slips through,
strict JSON, and configs that refuse what they cannot use. (The one-line-message matrix is test_bad_inputs.py.)"""

from __future__ import annotations

import json
import os
import pathlib
import stat
import subprocess
import sys

import numpy as np
import pytest
from helpers import free_port, mnist_slice

import jaxmlp
from jaxmlp import checkpoint, files, resume
from jaxmlp.config import TrainConfig
from jaxmlp.data import cache
from jaxmlp.epoch import init_state
from jaxmlp.train import DivergenceError, enable_compilation_cache


@pytest.fixture(scope="module")
def tiny(mnist: jaxmlp.Dataset) -> jaxmlp.Dataset:
    return mnist_slice(mnist, 500, 100)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_respect_the_umask(tmp_path: pathlib.Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        path = tmp_path / "params.npz"
        checkpoint.save_params(path, jaxmlp.init_params(jaxmlp_key()))
        files.write_bytes(tmp_path / "metrics.json", b"{}")
    finally:
        os.umask(previous)
    for name in ("params.npz", "metrics.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask


def jaxmlp_key():
    import jax

    return jax.random.key(0)


def test_a_blow_up_in_the_last_step_of_an_epoch_is_caught(tiny: jaxmlp.Dataset) -> None:
    """Full batch: one step an epoch, so no cost of that epoch sees the update; the params are checked too."""
    config = TrainConfig(output="identity", batch_size=None, epochs=2, lr=1e38, shift=0)  # lr * grad overflows
    with pytest.raises(DivergenceError, match=r"at epoch 1, step 1: training diverged") as info:
        jaxmlp.fit(tiny, config)
    assert info.value.state.epoch == 0
    assert all(np.all(np.isfinite(np.asarray(leaf))) for layer in info.value.state.params for leaf in layer.values())


def test_an_unusable_compile_cache_only_warns(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("JAXMLP_CACHE_DIR", str(blocker))
    import jax

    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    try:
        with pytest.warns(RuntimeWarning, match=r"compilation cache off"):
            assert enable_compilation_cache() is None
    finally:
        jax.config.update("jax_compilation_cache_dir", before)


@pytest.mark.parametrize(
    "damage",
    [
        lambda sha: sha.write_bytes(bytes(range(256))),  # binary garbage
        lambda sha: (sha.unlink(), sha.mkdir()),  # a folder where the checksum file goes
        lambda sha: sha.write_text(""),  # empty
    ],
    ids=["garbage", "folder", "empty"],
)
def test_a_damaged_checksum_file_rebuilds_the_cache(tiny: jaxmlp.Dataset, tmp_path: pathlib.Path, damage) -> None:
    path = cache.save_cache(tiny, tmp_path)
    damage(path.with_name(path.name + ".sha256"))
    with pytest.raises(cache.CacheCorruptError, match=r"checksum file .* is missing, empty or damaged"):
        cache.load_cache("mnist", tmp_path)


def test_a_zero_byte_cache_file_is_corrupt_not_a_crash(tiny: jaxmlp.Dataset, tmp_path: pathlib.Path) -> None:
    path = cache.save_cache(tiny, tmp_path)
    path.write_bytes(b"")
    with pytest.raises(cache.CacheCorruptError):
        cache.load_cache("mnist", tmp_path)


def test_a_checkpoint_with_a_malformed_history_is_refused_before_training(tmp_path: pathlib.Path) -> None:
    config = TrainConfig(batch_size=50, epochs=3)
    path = tmp_path / "checkpoint.npz"
    resume.save_state(path, init_state(config)._replace(epoch=1), config, {"history": {"train_cost": "lots"}})
    with pytest.raises(jaxmlp.InputError, match=r"stores an invalid record: history\['train_cost'\]"):
        resume.load_state(path)


def test_numpy_scalars_are_numbers_and_bools_are_not() -> None:
    assert TrainConfig(lr=np.float32(0.5), epochs=np.int64(3)).lr == 0.5
    with pytest.raises(jaxmlp.InputError, match="lr must be a positive number; got True"):
        TrainConfig(lr=True)


def test_an_ensemble_with_a_diverged_member_writes_strict_json_and_its_pictures(
    tiny: jaxmlp.Dataset, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from jaxmlp.cli import main

    monkeypatch.setattr(jaxmlp, "load_mnist", lambda *args, **kwargs: tiny)
    out = tmp_path / "ens"
    argv = ["train", "--ensemble", "2", "--lr", "0.01,1e38", "--output", "identity"]  # lr * grad overflows
    argv += ["--epochs", "1", "--batch-size", "50", "--shift", "0"]
    assert main([*argv, "--schedule", "constant", "--plots", "--out", str(out)]) == 0
    text = (out / "metrics.json").read_text()
    record = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-JSON constant {name} in metrics.json"))
    assert len(record["member_accuracy"]) == 2
    assert (out / "weights_layer1.png").stat().st_size > 0
    assert "saved the trained networks:" in capsys.readouterr().out
    kept = sorted(p.name for p in (out / "members").iterdir())
    assert kept == ["member-00.npz"]  # member 1 diverged: not saved as a network
    _, meta = checkpoint.load_params(out / "members" / "member-00.npz")
    assert meta["config"]["lr"] == 0.01 and meta["member"] == 0


def test_ctrl_c_while_starting_up_prints_no_traceback(tmp_path: pathlib.Path) -> None:
    """SIGINT as soon as the process starts (imports, parsing): exit 130 or a clean stop, never a traceback."""
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "jaxmlp.cli", "train", "--epochs", "1", "--out", str(tmp_path / "run")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode in (130, -signal.SIGINT, 2), stderr
    assert "Traceback" not in stderr, stderr


def test_a_multi_host_run_without_its_coordinator_fails_in_one_line(tmp_path: pathlib.Path) -> None:
    argv = ["train", "--coordinator", f"127.0.0.1:{free_port()}", "--num-processes", "2", "--process-id", "1"]
    result = subprocess.run(
        [sys.executable, "-m", "jaxmlp.cli", *argv, "--coordinator-timeout", "2", "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "no coordinator answers at 127.0.0.1:" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_ends_a_multi_host_rendezvous(tmp_path: pathlib.Path) -> None:
    """Process 0 waits for a peer that never comes; Ctrl-C still ends it at once (exit 130), no C++ stack dump."""
    import signal
    import time

    argv = ["train", "--coordinator", f"127.0.0.1:{free_port()}", "--num-processes", "2", "--process-id", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "jaxmlp.cli", *argv, "--out", str(tmp_path / "run")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "joining" not in process.stdout.readline():
        pass
    time.sleep(1.0)
    start = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert time.monotonic() - start < 10
    assert "interrupted while joining the multi-host run" in stderr and "Check failure" not in stderr


def test_a_second_process_0_on_a_busy_coordinator_is_refused(tmp_path: pathlib.Path) -> None:
    """jax aborts a running coordinator when another process 0 joins it; jaxmlp refuses the newcomer first."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        argv = ["train", "--coordinator", address, "--num-processes", "2", "--process-id", "0"]
        result = subprocess.run(
            [sys.executable, "-m", "jaxmlp.cli", *argv, "--out", str(tmp_path / "run")],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2, result.stderr
    assert f"something already listens at {address} (another process 0?)" in result.stderr
