"""The benchmark scripts in their tiny CI mode: they run, their JSON has every field, the correctness checks pass.

No timing assertions: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def run_script(name: str, tmp_path: Path, *extra: str) -> tuple[dict, str]:
    out = tmp_path / f"{name}.json"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), "--tiny", "--repeats", "1", "--json", str(out), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def check_stats(stats: dict) -> None:
    assert set(stats) == {"median", "min", "max", "n"}
    assert 0 < stats["min"] <= stats["median"] <= stats["max"]


def check_machine(machine: dict) -> None:
    for key in ("cpu", "cores", "jax", "numpy", "blas", "jax_device", "thread_env", "load_average_1_5_15"):
        assert key in machine


def test_bench_grad_tiny(tmp_path):
    results, stdout = run_script("bench_grad", tmp_path)
    assert results["benchmark"] == "bench_grad" and results["tiny"]
    check_machine(results["machine"])
    assert results["all_correct"]
    assert {(r["dtype"], r["network"]) for r in results["correctness"]} == {
        (d, n) for d in ("float32", "float64") for n in ("seed", "best")
    }
    assert len(results["timings"]) == len(results["settings"]["batches"])
    for row in results["timings"]:
        for key in ("numpy_reference", "jax_no_jit", "jax_jit"):
            check_stats(row[key])
        for key in ("numpy_over_jit", "no_jit_over_jit", "jit_gflops"):
            assert row[key] > 0
    check_stats(results["timings"][-1]["matmuls_only"])
    assert "full_batch_jit_within_1_5x_of_matmuls" in results["targets"]
    assert {"sgemm_128x784x16", "sgemm_128x784x16_best", "sgemm_1024_square"} <= set(results["sgemm_gflops"])
    assert stdout.rstrip().endswith("|")  # the markdown table is printed last


def test_bench_train_tiny(tmp_path):
    results, stdout = run_script("bench_train", tmp_path)
    assert results["benchmark"] == "bench_train" and results["tiny"]
    check_machine(results["machine"])
    assert results["all_correct"], results["correctness"]
    errors = results["correctness"]["update_relative_error_vs_numpy"]
    assert {"jaxmlp epoch", "jaxmlp epoch @731d415", "optax loop"} <= set(errors)
    assert any(lib.get("user_api") == "blas" for lib in results["settings"]["numpy_child_blas"])  # threadpoolctl
    for epoch in results["epochs"]:
        names = set(epoch["epoch_seconds"])
        assert {"jaxmlp epoch", "jaxmlp epoch @731d415", "optax loop", "NumPy 1 thread", "NumPy 2 threads"} <= names
        assert "matmul floor" in names
        for key in ("examples_per_second", "gflops", "ratio_to_epoch"):
            assert set(epoch[key]) == names
        for stats in epoch["epoch_seconds"].values():
            check_stats(stats)
        assert epoch["best_threads"]["NumPy"] in names
    for name, target in results["targets"].items():
        assert name.split("_b")[0] in {"faster_than_numpy", "multiple_of_matmul_floor", "faster_than_torch_eager"}
        assert target["value"] > 0 and isinstance(target["met"], bool)
    for phase in ("cold", "from_cache"):
        check_stats(results["compile"][phase]["total_s"])
    for label in ("cold_compile_cache", "warm_compile_cache"):
        run = results["time_to_accuracy"][label]
        assert set(run["seconds_to"]) == {"95%", "96%"}
        assert run["epochs"] >= 1 and 0 <= run["best_test_accuracy"] <= 1
    assert stdout.rstrip().endswith("|")
