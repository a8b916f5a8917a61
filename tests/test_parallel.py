"""Data parallelism: 4 CPU devices and 2 loopback processes give the single-device numbers; clear errors.

Runs needing several devices or processes start fresh Python subprocesses (``JAX_NUM_CPU_DEVICES`` is only read
when JAX starts). Training is tiny: 512 synthetic images, one epoch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from helpers import free_port

import jaxmlp
from jaxmlp.cli import main
from jaxmlp.parallel import check_batch, data_mesh

ROOT = Path(__file__).resolve().parent.parent

SYNTHETIC = """
import numpy as np
from jaxmlp.data import Dataset

def synthetic(n_train=512, n_test=128):
    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, (n, 784), dtype=np.uint8)
    labels = lambda n: rng.integers(0, 10, n).astype(np.uint8)
    return Dataset(images(n_train), labels(n_train), images(n_test), labels(n_test), source="synthetic")
"""


def synthetic():
    namespace: dict = {}
    exec(SYNTHETIC, namespace)
    return namespace["synthetic"]()


def max_relative_difference(a, b) -> float:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))) / np.max(np.abs(np.asarray(u)))) for u, v in pairs)


def run_python(code: str, devices: int, *args: str, log: Path) -> tuple[subprocess.Popen, Path]:
    """Start ``python -c code args`` with ``devices`` CPU devices, its output going to files (a full pipe would
    block it, and two distributed processes wait for each other at exit)."""
    env = {**os.environ, "JAX_NUM_CPU_DEVICES": str(devices), "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    env.pop("XLA_FLAGS", None)  # a --xla_force_host_platform_device_count here would override the count
    script = SYNTHETIC + textwrap.dedent(code)
    with open(log.with_suffix(".out"), "w") as out, open(log.with_suffix(".err"), "w") as err:
        process = subprocess.Popen([sys.executable, "-c", script, *args], env=env, stdout=out, stderr=err)
    return process, log


def result_of(started: tuple[subprocess.Popen, Path], timeout: float = 300) -> dict:
    process, log = started
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    err = log.with_suffix(".err").read_text()
    assert process.returncode == 0, f"subprocess failed ({process.returncode}):\n{err[-4000:]}"
    return json.loads(log.with_suffix(".out").read_text().strip().splitlines()[-1])


FOUR_DEVICES = """
import json, jax, numpy as np, jaxmlp
from jaxmlp.parallel import data_mesh
from jaxmlp.epoch import compiled_epoch, init_state

def rel(a, b):
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))) / np.max(np.abs(np.asarray(u)))) for u, v in pairs)

def error(**kwargs):
    try:
        jaxmlp.fit(data, jaxmlp.PRESETS["seed"], epochs=1, **kwargs)
    except ValueError as e:
        return str(e)

data, out = synthetic(), {"devices": len(jax.devices())}
for preset in ("seed", "best"):
    one, _ = jaxmlp.fit(data, jaxmlp.PRESETS[preset], epochs=1, batch_size=32)
    four, _ = jaxmlp.fit(data, jaxmlp.PRESETS[preset], epochs=1, batch_size=32, devices=4)
    two, _ = jaxmlp.fit(data, jaxmlp.PRESETS[preset], epochs=1, batch_size=32, devices=jax.devices()[2:])
    out[preset] = {"four": rel(one, four), "two": rel(one, two)}
config = jaxmlp.TrainConfig(batch_size=32, epochs=1)
state = init_state(config)
epoch = compiled_epoch(config, 512, data_mesh(4))
hlo = epoch.lower(state, data.x_train, data.y_train.astype(np.int32)).compile().as_text()
out["all_reduce"] = "all-reduce" in hlo
out["uneven"] = error(batch_size=10, devices=4)
out["too_many"] = error(batch_size=32, devices=5)
print(json.dumps(out))
"""


def test_four_cpu_devices_match_one_device(tmp_path):
    out = result_of(run_python(FOUR_DEVICES, 4, log=tmp_path / "four"))
    assert out["devices"] == 4
    for preset in ("seed", "best"):  # plain GD with shifts; AdamW with warm-up cosine
        assert out[preset]["four"] < 1e-5, out
        assert out[preset]["two"] < 1e-5, out
    assert out["all_reduce"], "jit should insert an all-reduce of the gradient over the data axis"
    assert "batch size 10 does not divide evenly over 4 devices" in out["uneven"]
    assert "devices=5" in out["too_many"] and "4" in out["too_many"] and "JAX_NUM_CPU_DEVICES" in out["too_many"]


def test_bad_device_counts_give_clear_errors():
    n = len(jax.devices())
    for bad in (0, -1, n + 1):
        with pytest.raises(ValueError, match=rf"devices={bad} asked for, but JAX sees {n} .*JAX_NUM_CPU_DEVICES=N"):
            data_mesh(bad)
    with pytest.raises(ValueError, match="empty"):
        data_mesh([])
    with pytest.raises(TypeError, match="int or a list of jax devices"):
        data_mesh(["cpu:0"])
    mesh = data_mesh(1)
    assert mesh.axis_names == ("data",) and mesh.size == 1
    check_batch(7, mesh)  # anything splits over one device
    with pytest.raises(ValueError, match=rf"devices={n + 1}"):
        jaxmlp.fit(synthetic(), jaxmlp.PRESETS["seed"], epochs=1, devices=n + 1)


TWO_PROCESSES = """
import json, sys
from jaxmlp.parallel import initialize_distributed
initialize_distributed(f"127.0.0.1:{sys.argv[1]}", 2, int(sys.argv[2]))
import jax, numpy as np, jaxmlp
from jaxmlp.costs import quadratic_cost
from jaxmlp.parallel import data_mesh, global_batch, process_share, replicate

data = synthetic()
params, history = jaxmlp.fit(data, jaxmlp.PRESETS["best"], epochs=1, batch_size=32)
# Each process feeds only its share of one batch of 64; the gradient is the whole batch's.
mesh = data_mesh()
share = process_share(64)
xb, yb = global_batch((data.x_train[share] / np.float32(255), data.y_train[share].astype(np.int32)), mesh)
start = jaxmlp.init_params(jax.random.key(0))
grads = jax.jit(jax.grad(quadratic_cost))(replicate(start, mesh), xb, yb)
print(json.dumps({
    "processes": jax.process_count(), "devices": len(jax.devices()), "share": [share.start, share.stop],
    "params": [np.asarray(a).tolist() for a in jax.tree.leaves(params)],
    "grads": [np.asarray(a).tolist() for a in jax.tree.leaves(grads)],
    "accuracy": history.test_accuracy[-1],
}))
"""


def test_two_processes_on_loopback_agree_with_one_process(tmp_path):
    port = str(free_port())
    processes = [run_python(TWO_PROCESSES, 1, port, str(i), log=tmp_path / f"process{i}") for i in range(2)]
    results = [result_of(p, timeout=240) for p in processes]
    assert [r["processes"] for r in results] == [2, 2] and [r["devices"] for r in results] == [2, 2]
    assert [r["share"] for r in results] == [[0, 32], [32, 64]]

    data = synthetic()
    params, history = jaxmlp.fit(data, jaxmlp.PRESETS["best"], epochs=1, batch_size=32)
    grads = jax.grad(jaxmlp.quadratic_cost)(
        jaxmlp.init_params(jax.random.key(0)), data.x_train[:64] / np.float32(255), data.y_train[:64].astype(np.int32)
    )
    for r in results:
        assert max_relative_difference(params, [np.array(a) for a in r["params"]]) < 1e-5
        assert max_relative_difference(grads, [np.array(a) for a in r["grads"]]) < 1e-5
        assert r["accuracy"] == pytest.approx(history.test_accuracy[-1], abs=1e-6)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", "1,2"], "a list of learning rates needs --ensemble K"),
        (["--ensemble", "3", "--lr", "1,2"], "--lr lists 2 learning rates for --ensemble 3"),
        (["--ensemble", "2", "--devices", "2"], "does not combine with --devices"),
        (["--coordinator", "127.0.0.1:1234"], "needs all of --coordinator, --num-processes and --process-id"),
    ],
)
def test_cli_scale_out_flags_are_checked_before_training(capsys, argv, message):
    assert main(["train", *argv]) == 2
    assert message in capsys.readouterr().err
