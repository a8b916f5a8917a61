"""The command line end to end: train with --json and --out, then evaluate the saved file."""

import json
import subprocess
import sys

import numpy as np
import pytest

from jaxmlp.checkpoint import load_params
from jaxmlp.cli import main


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "jaxmlp.cli", *args], capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_train_writes_loadable_files_and_evaluate_agrees(mnist, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--preset", "best", "--epochs", "2", "--out", str(out), "--json"])
    assert code == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics == json.loads((out / "metrics.json").read_text())
    for field in (
        "test_accuracy",
        "test_cost",
        "epochs",
        "epoch_seconds",
        "compile_seconds",
        "examples_per_second",
        "config",
        "data_source",
        "backend",
        "device",
        "versions",
    ):
        assert field in metrics
    assert metrics["epochs"] == len(metrics["epoch_seconds"]) == 2
    assert metrics["test_accuracy"] > 0.85
    assert metrics["config"]["activation"] == "relu"

    params, meta = load_params(out / "params.npz")
    assert [layer["w"].shape for layer in params] == [(784, 16), (16, 16), (16, 10)]
    assert all(np.all(np.isfinite(layer["w"])) for layer in params)
    assert meta["config"]["cost"] == "cross-entropy"

    assert main(["evaluate", str(out / "params.npz"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert evaluated["test_cost"] == pytest.approx(metrics["test_cost"], rel=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--lr", "-1"], "expected a positive float"),
        (["train", "--epochs", "0"], "expected a positive int"),
        (["train", "--batch-size", "ten"], "expected a positive int"),
        (["train", "--sizes", "784,16,9"], "layer widths must start at 784, end at 10"),
        (["train", "--activation", "softplus"], "invalid choice"),
        (["evaluate", "/nonexistent/params.npz"], "no checkpoint file"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "train" in result.stdout and "evaluate" in result.stdout
