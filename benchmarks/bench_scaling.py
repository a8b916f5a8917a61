"""Scaling: data-parallel training on 1, 2, 4 devices, and ensembles of K networks in one compiled program.

Device rows: each device count runs in its own process (``JAX_NUM_CPU_DEVICES=N`` must be set before JAX starts),
times ``fit(..., devices=N)`` epochs (median, compile excluded) and checks the params after one epoch against the
single-device run. Ensemble rows: ``fit_ensemble`` with K seeds (own batches per member, and shared batches) against
training ``--sequential`` networks one after another with ``fit`` in the same run. Usage::

    python benchmarks/bench_scaling.py --json runs/bench_scaling.json      # full MNIST
    python benchmarks/bench_scaling.py --tiny                              # CI: synthetic data, seconds
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import load_data, machine_info, machine_line, markdown_table, parse_args, write_output


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def add_arguments(parser: Any) -> None:
    parser.add_argument("--devices", type=_ints, help="device counts (default 1,2,4)")
    parser.add_argument("--batch-sizes", type=_ints, help="global batch sizes for the device rows (default 128,1024)")
    parser.add_argument("--ensembles", type=_ints, help="ensemble sizes K (default 1,8,32,64; tiny 1,4)")
    parser.add_argument("--sequential", type=int, help="networks trained one after another (default 32; tiny 4)")
    parser.add_argument("--epochs", type=int, help="epochs per run (default: 3 for devices, 1 for ensembles)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # internal: one device-count process


def _config(preset: str = "seed", **changes: Any) -> Any:
    import jaxmlp

    return dataclasses.replace(jaxmlp.PRESETS[preset], **changes)


def _max_relative_difference(a: Any, b: Any) -> float:
    import jax
    import numpy as np

    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))) / np.max(np.abs(np.asarray(u)))) for u, v in pairs)


def device_worker(args: Any) -> dict[str, Any]:
    """In a process started with JAX_NUM_CPU_DEVICES=args.worker: time every batch size, check equality once."""
    import jax

    import jaxmlp

    n, data, rows = args.worker, load_data(args.tiny), []
    epochs = args.epochs or (1 if args.tiny else 3)
    for i, batch in enumerate(args.batch_sizes):
        config = _config(batch_size=batch, epochs=epochs)
        _, history = jaxmlp.fit(data, config, devices=n)
        row = {"devices": n, "batch_size": batch, "epoch_seconds": history.epoch_seconds}
        row |= {"examples_per_second": history.examples_per_second, "compile_seconds": history.compile_seconds}
        if i == 0 and n > 1:  # one epoch, same seed and global batch, against the single-device path
            one, _ = jaxmlp.fit(data, config, epochs=1)
            many, _ = jaxmlp.fit(data, config, epochs=1, devices=n)
            row["max_relative_difference_vs_1_device"] = _max_relative_difference(one, many)
        rows.append(row)
    return {"rows": rows, "platform": jax.devices()[0].platform, "load_average": list(os.getloadavg())}


def run_device_rows(args: Any) -> list[dict[str, Any]]:
    rows = []
    for n in args.devices:
        env = {**os.environ, "JAX_NUM_CPU_DEVICES": str(n), "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(n)]
        command += ["--batch-sizes", ",".join(map(str, args.batch_sizes)), "--repeats", "1"]
        command += (["--tiny"] if args.tiny else []) + (["--epochs", str(args.epochs)] if args.epochs else [])
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"device worker {n} failed:\n{done.stderr[-3000:]}")
        rows += json.loads(done.stdout.strip().splitlines()[-1])["rows"]
    base = {r["batch_size"]: r["examples_per_second"] for r in rows if r["devices"] == min(args.devices)}
    for r in rows:
        r["speedup"] = r["examples_per_second"] / base[r["batch_size"]]
    return rows


def run_ensemble_rows(args: Any, data: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    import jaxmlp

    config = _config(epochs=args.epochs or 1)
    start = time.perf_counter()
    epoch_seconds, compile_seconds = [], []
    for seed in range(args.sequential):
        _, history = jaxmlp.fit(data, config, seed=seed)
        epoch_seconds += history.epoch_seconds
        compile_seconds.append(history.compile_seconds)
    wall = time.perf_counter() - start
    sequential = {"networks": args.sequential, "epochs": config.epochs, "wall_seconds": wall}
    sequential |= {"median_epoch_seconds": statistics.median(epoch_seconds), "compile_seconds": compile_seconds}
    sequential["networks_per_second"] = 1 / sequential["median_epoch_seconds"]
    sequential["networks_per_second_wall"] = args.sequential * config.epochs / wall

    rows = []
    for k in args.ensembles:
        for shared in (False, True):
            start = time.perf_counter()
            result = jaxmlp.fit_ensemble(data, config, seeds=range(k), shared_batches=shared)
            wall = time.perf_counter() - start
            row = {"K": k, "shared_batches": shared, "epoch_seconds": result.epoch_seconds, "wall_seconds": wall}
            row |= {"compile_seconds": result.compile_seconds, "networks_per_second": result.networks_per_second}
            row |= {"networks_per_second_wall": k * config.epochs / wall}
            row["speedup_vs_sequential"] = row["networks_per_second"] / sequential["networks_per_second"]
            row["speedup_vs_sequential_wall"] = row["networks_per_second_wall"] / sequential["networks_per_second_wall"]
            row |= {"best_member_accuracy": max(result.member_accuracy), "vote_accuracy": result.vote_accuracy}
            row["mean_output_accuracy"] = result.mean_output_accuracy
            rows.append(row)
    return rows, sequential


def _device_row(r: dict[str, Any]) -> list[Any]:
    diff = r.get("max_relative_difference_vs_1_device")
    epoch_ms = statistics.median(r["epoch_seconds"]) * 1e3
    speed = f"{r['examples_per_second']:,.0f}"
    return [
        r["devices"],
        r["batch_size"],
        f"{epoch_ms:.0f}",
        speed,
        f"{r['speedup']:.2f}×",
        "–" if diff is None else f"{diff:.1e}",
    ]


def _ensemble_row(r: dict[str, Any]) -> list[Any]:
    kind = "shared batches" if r["shared_batches"] else "own batches"
    rate, wall = f"{r['networks_per_second']:.2f}", f"{r['networks_per_second_wall']:.2f}"
    speedups = [f"{r['speedup_vs_sequential']:.1f}×", f"{r['speedup_vs_sequential_wall']:.1f}×"]
    accuracies = [f"{r[name]:.2%}" for name in ("best_member_accuracy", "vote_accuracy", "mean_output_accuracy")]
    epoch = f"{statistics.median(r['epoch_seconds']):.2f}"
    return [kind, r["K"], epoch, rate, speedups[0], wall, speedups[1], *accuracies]


def tables(results: dict[str, Any]) -> str:
    """The two markdown tables (devices; ensembles against one-after-another), under a line about the machine."""
    seq = results["sequential"]
    first = ["one after another", seq["networks"], f"{seq['median_epoch_seconds']:.2f}"]
    first += [f"{seq['networks_per_second']:.2f}", "1.0×", f"{seq['networks_per_second_wall']:.2f}", "1.0×", "", "", ""]
    device_headers = ["devices", "global batch", "epoch ms", "examples/s", "speedup", "1-epoch params vs 1 device"]
    ensemble_headers = ["ensemble", "K", "epoch s", "net-epochs/s", "speedup", "incl. compile", "speedup"]
    ensemble_headers += ["best member", "vote", "mean output"]
    return "\n\n".join(
        [
            machine_line(results["machine"]),
            markdown_table(device_headers, [_device_row(r) for r in results["devices"]]),
            markdown_table(ensemble_headers, [first, *(_ensemble_row(r) for r in results["ensembles"])]),
        ]
    )


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], add_arguments)
    args.batch_sizes = args.batch_sizes or ([64] if args.tiny else [128, 1024])
    if args.worker:
        print(json.dumps(device_worker(args)))
        return
    args.devices = args.devices or [1, 2, 4]
    args.ensembles = args.ensembles or ([1, 4] if args.tiny else [1, 8, 32, 64])
    args.sequential = args.sequential or (4 if args.tiny else 32)
    info = machine_info()
    data = load_data(args.tiny)
    device_rows = run_device_rows(args)
    ensemble_rows, sequential = run_ensemble_rows(args, data)
    info["load_average_end"] = list(os.getloadavg())
    results = {"machine": info, "devices": device_rows, "sequential": sequential, "ensembles": ensemble_rows}
    results["tiny"] = args.tiny
    write_output(args.json, results, tables(results))


if __name__ == "__main__":
    main()
