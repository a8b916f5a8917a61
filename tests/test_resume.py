"""Resume, Ctrl-C, divergence and determinism: a trained network is never lost, a run is reproducible.

Training here is tiny: a 2,000-image slice of MNIST for the in-process runs; the subprocess runs use the full
cached MNIST with 600 steps per epoch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import jax
import pytest
from helpers import all_finite, mnist_slice, trees_equal

import jaxmlp
from jaxmlp import checkpoint, resume
from jaxmlp.cli import main
from jaxmlp.epoch import TrainState
from jaxmlp.train import DivergenceError

# Diverges in epoch 2 on the slice (lr 2.0 .. 4.0 all do): ReLU into an unbounded identity output, plain descent.
DIVERGING = ["--preset", "best", "--output", "identity", "--cost", "quadratic", "--optimizer", "gd"]
DIVERGING += [
    "--label-smoothing",
    "0",
    "--weight-decay",
    "0",
    "--schedule",
    "constant",
    "--batch-size",
    "100",
    "--shift",
    "0",
    "--lr",
    "3",
    "--epochs",
    "3",
]


@pytest.fixture(scope="module")
def small(mnist: jaxmlp.Dataset) -> jaxmlp.Dataset:
    return mnist_slice(mnist, 2000, 500)


@pytest.mark.parametrize("preset", ["seed", "best"])
def test_resume_equals_uninterrupted_training_bitwise(small, tmp_path: pathlib.Path, preset: str) -> None:
    """Stop after epoch 1, save, load in a fresh state, finish: the same bits as one uninterrupted run.

    ``best`` carries AdamW moments, a warm-up schedule, random shifts and label smoothing through the file.
    """
    config = dataclasses.replace(jaxmlp.PRESETS[preset], batch_size=100, epochs=2)
    uninterrupted, _ = jaxmlp.fit(small, config)

    path = tmp_path / "checkpoint.npz"

    def save_and_stop(state: TrainState, history: object) -> None:
        resume.save_state(path, state, config)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        jaxmlp.fit(small, config, on_epoch=save_and_stop)
    state, stored_config, _ = resume.load_state(path)
    assert stored_config == config and state.epoch == 1
    resumed, history = jaxmlp.fit(small, stored_config, state=state)
    assert len(history.test_accuracy) == 1  # only epoch 2 was run
    assert trees_equal(resumed, uninterrupted)


def test_a_resumed_cli_run_reports_the_whole_runs_history(mnist, tmp_path: pathlib.Path, capsys) -> None:
    """metrics.json after ``--resume`` holds every epoch, equal to those of a run that was never stopped."""
    config = dataclasses.replace(jaxmlp.PRESETS["seed"], batch_size=100, epochs=3)
    _, straight = jaxmlp.fit(mnist, config)
    path = tmp_path / "checkpoint.npz"

    def save_and_stop(state: TrainState, history: jaxmlp.History) -> None:  # what `jaxmlp train` saves each epoch
        resume.save_state(path, state, config, {"preset": "seed", "history": history.to_dict()})
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        jaxmlp.fit(mnist, config, on_epoch=save_and_stop)
    assert main(["train", "--resume", str(path), "--source", "cache", "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs"] == len(metrics["epoch_seconds"]) == 3
    assert metrics["history"]["test_accuracy"] == straight.test_accuracy
    assert metrics["history"]["train_cost"] == straight.train_cost
    assert metrics["test_accuracy"] == straight.test_accuracy[-1]


def test_divergence_keeps_the_last_finite_epoch(small, tmp_path: pathlib.Path, monkeypatch, capsys) -> None:
    """lr 3 diverges in epoch 2: exit 1, a message naming epoch and step, epoch 1 kept on disk and finite."""
    monkeypatch.setattr(jaxmlp, "load_mnist", lambda *args, **kwargs: small)
    out = tmp_path / "run"
    assert main(["train", *DIVERGING, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(r"cost became (nan|inf) at epoch 2, step \d+: training diverged; try a smaller learning rate", err)
    state, config, _ = resume.load_state(out / "checkpoint.npz")
    assert state.epoch == 1 and config.lr == 3.0 and all_finite(state.params) and all_finite(state.opt_state)
    assert not (out / "params.npz").exists()  # never a diverged network under the finished result's name
    params, meta = checkpoint.load_params(out / "params.diverged.npz")
    assert meta["diverged"] is True and meta["epoch"] == 1
    assert trees_equal(params, state.params)  # the last finite params: those of epoch 1

    # The library says the same and hands back that state.
    with pytest.raises(DivergenceError, match=r"at epoch 2, step \d+.*smaller learning rate than 3\.0") as info:
        jaxmlp.fit(small, config)
    assert info.value.state.epoch == 1 and trees_equal(info.value.state.params, params)
    assert len(info.value.history.test_accuracy) == 1


def test_a_diverged_run_never_replaces_a_good_result(small, tmp_path: pathlib.Path, monkeypatch, capsys) -> None:
    """A run that diverges in its first epoch, pointed at a folder with a good result, leaves that result as it was."""
    monkeypatch.setattr(jaxmlp, "load_mnist", lambda *args, **kwargs: small)
    out = tmp_path / "run"
    lr_ok = [*DIVERGING[:-4], "--lr", "0.1", "--epochs", "1"]
    assert main(["train", *lr_ok, "--out", str(out)]) == 0
    before = {name: (out / name).read_bytes() for name in ("params.npz", "metrics.json", "checkpoint.npz")}
    capsys.readouterr()
    huge = [*DIVERGING[:-4], "--lr", "1e6", "--epochs", "1", "--out", str(out)]
    assert main(["train", *huge]) == 2  # without --overwrite the folder of another run is refused
    assert "already holds another run's" in capsys.readouterr().err
    assert main(["train", *huge, "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert "at epoch 1, step" in err and "smaller learning rate than 1000000.0" in err
    assert {name: (out / name).read_bytes() for name in before} == before
    params, meta = checkpoint.load_params(out / "params.diverged.npz")  # the initial params: finite
    assert meta["epoch"] == 0 and all_finite(params)


def _train_command(out: pathlib.Path) -> list[str]:
    return [sys.executable, "-m", "jaxmlp.cli", "train", "--source", "cache", "--batch-size", "100", "--out", str(out)]


def test_same_seed_gives_bitwise_identical_params_in_two_processes(mnist, tmp_path: pathlib.Path) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]
    env = {**os.environ, "JAXMLP_COMPILATION_CACHE": "0"}  # each process compiles for itself
    runs = [
        subprocess.Popen(
            [*_train_command(out), "--epochs", "1", "--seed", "7"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for out in outs
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr.decode()
    (a, meta_a), (b, _) = (checkpoint.load_params(out / "params.npz") for out in outs)
    assert meta_a["config"]["seed"] == 7
    assert all(x.tobytes() == y.tobytes() for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))
    other, _ = checkpoint.load_params(outs[0] / "checkpoint.npz")
    assert trees_equal(a, other)


def _training_past_epoch_1(out: pathlib.Path) -> subprocess.Popen:
    """A 50-epoch ``jaxmlp train`` subprocess into ``out``, returned once it has printed its first epoch line."""
    command = [*_train_command(out), "--epochs", "50"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (lines and (lines[-1].startswith("epoch") or not lines[-1])):
        lines.append(process.stdout.readline())
    if not lines[-1].startswith("epoch   1"):
        process.kill()
        pytest.fail("".join(lines) + process.communicate()[1])
    return process


@pytest.mark.parametrize(
    ("signum", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_a_signal_saves_the_last_epoch_and_says_how_to_resume(
    mnist, tmp_path: pathlib.Path, signum, code, word
) -> None:
    out = tmp_path / "run"
    process = _training_past_epoch_1(out)
    try:
        process.send_signal(signum)
        stderr = process.communicate(timeout=60)[1]
    finally:
        process.kill()
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    match = re.search(rf"{word}; epoch (\d+) of 50 is saved in (\S+); resume with: jaxmlp train --resume (\S+)", stderr)
    assert match, stderr
    epoch, saved, resumed = int(match[1]), match[2], match[3]
    assert saved == resumed == str(out / "checkpoint.npz") and epoch >= 1
    state, config, meta = resume.load_state(resumed)
    assert state.epoch == epoch and config.epochs == 50 and meta["preset"] == "seed"
    assert all_finite(state.params) and all_finite(state.opt_state)
    assert [p.name for p in out.iterdir() if p.name != ".lock"] == ["checkpoint.npz"]  # no temp file left behind


def test_two_runs_cannot_share_an_output_folder(mnist, tmp_path: pathlib.Path) -> None:
    """While one run trains into --out, a second one into the same folder is refused at once and writes nothing."""
    out = tmp_path / "run"
    first = _training_past_epoch_1(out)
    try:
        start = time.monotonic()
        second = subprocess.run([*_train_command(out), "--epochs", "1", "--overwrite"], capture_output=True, text=True)
        assert second.returncode == 2, second.stderr
        assert re.search(r"--out \S+ is in use by another jaxmlp run \(pid \d+\)", second.stderr), second.stderr
        assert time.monotonic() - start < 60 and first.poll() is None  # refused before any work, first still runs
        assert sorted(p.name for p in out.iterdir()) == [".lock", "checkpoint.npz"]  # nothing from the second run
    finally:
        first.kill()
        first.communicate()
