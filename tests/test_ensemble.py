"""Ensembles: K networks in one vmapped program equal the same networks trained alone; vote and mean output."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmlp
from jaxmlp.data import Dataset
from jaxmlp.ensemble import ensemble_accuracies, ensemble_members, fit_ensemble
from jaxmlp.train import init_state

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data() -> Dataset:
    rng = np.random.default_rng(1)
    images, labels = (lambda n: rng.integers(0, 256, (n, 784), dtype=np.uint8)), (lambda n: rng.integers(0, 10, n))
    return Dataset(images(320), labels(320).astype(np.uint8), images(64), labels(64).astype(np.uint8))


def max_relative_difference(a, b) -> float:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))) / np.max(np.abs(np.asarray(u)))) for u, v in pairs)


@pytest.mark.parametrize("preset", ["seed", "best"])  # plain GD + shifts + cosine; AdamW + warm-up cosine
def test_members_equal_the_same_networks_trained_alone(data, preset):
    config = dataclasses.replace(jaxmlp.PRESETS[preset], batch_size=32, epochs=1)
    lrs = [config.lr, config.lr, config.lr / 4]
    result = fit_ensemble(data, config, seeds=[0, 1, 2], lrs=lrs)
    assert result.size == 3 and result.params[0]["w"].shape == (3, 784, 16)
    for k, (seed, lr) in enumerate(zip(result.seeds, result.lrs, strict=True)):
        alone, history = jaxmlp.fit(data, config, seed=seed, lr=lr)
        assert max_relative_difference(alone, result.member(k)) < 1e-5
        assert result.member_accuracy[k] == pytest.approx(history.test_accuracy[-1], abs=1e-6)


def test_shared_batches_members_follow_member_zeros_batches(data):
    config = dataclasses.replace(jaxmlp.PRESETS["seed"], batch_size=32, epochs=1)
    result = fit_ensemble(data, config, seeds=[5, 6], shared_batches=True)
    train_key = init_state(dataclasses.replace(config, seed=5)).key
    for k, seed in enumerate(result.seeds):
        start = init_state(dataclasses.replace(config, seed=seed))._replace(key=train_key)
        alone, _ = jaxmlp.fit(data, config, state=start)
        assert max_relative_difference(alone, result.member(k)) < 1e-5


def test_vote_and_mean_output_accuracy():
    y = jnp.array([0, 1, 2])
    outputs = jnp.zeros((3, 3, 10))
    outputs = outputs.at[0, :, 0].set(1.0)  # member 0 always says 0: right on example 0 only
    outputs = outputs.at[1].set(jax.nn.one_hot(jnp.array([0, 1, 2]), 10) * 0.6)  # member 1: always right
    outputs = outputs.at[2].set(jax.nn.one_hot(jnp.array([3, 1, 2]), 10) * 0.6)  # member 2: right on 1, 2
    members, vote, mean = ensemble_accuracies(outputs, y)
    assert members == pytest.approx([1 / 3, 1.0, 2 / 3])
    assert vote == pytest.approx(1.0)  # example 0: 0, 0, 3 -> 0; examples 1, 2: two of three right
    assert mean == pytest.approx(1.0)  # example 1: digit 0 gets 1/3, digit 1 gets 0.4
    tie = jax.nn.one_hot(jnp.array([[4], [7]]), 10)  # two members, one example, a 4-7 tie -> the smaller digit
    assert ensemble_accuracies(tie, jnp.array([4]))[1] == 1.0


def test_member_lists_and_errors(data):
    config = jaxmlp.PRESETS["seed"]
    assert ensemble_members(config, range(3), None) == ((0, 1, 2), (config.lr,) * 3)
    assert ensemble_members(config, None, [1, 2]) == ((config.seed,) * 2, (1.0, 2.0))
    with pytest.raises(ValueError, match="same length"):
        ensemble_members(config, [0, 1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        ensemble_members(config, [0, 1], [1.0, -2.0])
    with pytest.raises(ValueError, match=r"seeds=.* and/or lrs="):
        fit_ensemble(data, config)


def test_bench_scaling_tiny(tmp_path):
    out = tmp_path / "scaling.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_scaling.py"), "--tiny", "--json", str(out)]
    command += ["--devices", "1,2", "--ensembles", "1,3", "--sequential", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert [r["devices"] for r in results["devices"]] == [1, 2]
    assert results["devices"][1]["max_relative_difference_vs_1_device"] < 1e-5
    assert [(r["K"], r["shared_batches"]) for r in results["ensembles"]] == [
        (1, False),
        (1, True),
        (3, False),
        (3, True),
    ]
    assert "| devices | global batch |" in done.stdout and "| ensemble | K |" in done.stdout
