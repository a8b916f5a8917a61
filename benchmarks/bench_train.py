"""One training epoch of 784-16-16-10: jaxmlp's compiled ``lax.scan`` epoch vs three baselines, side by side.

Every implementation trains the seed network (sigmoid, quadratic cost, plain rule ``p - 3.0 * grad``, N(0, 1) init)
on the same 60,000 MNIST images at batch 16, 128 and 1024, one shuffled pass per epoch, repeats alternated:

* ``scan``: ``jaxmlp.train._epoch_fn`` (what ``fit`` runs): one jitted program per epoch, on-device shuffling;
* ``loop``: a Python loop over a jitted step (``jaxmlp.train.gradient_descent_step``), host batches sliced
  from a NumPy float32 copy as in JAX's own MNIST example;
* ``numpy``: NumPy minibatch gradient descent over ``jaxmlp.reference.backprop``;
* ``torch``: PyTorch eager autograd (CPU), when installed.

Also measured: one step of each on the same batch against NumPy (correctness), the epoch's compile time in fresh
processes (cold, then from the persistent cache), GFLOP/s against NumPy's sgemm in the same run, and seconds from
process start until ``--preset best`` first reaches 95 % and 96 % test accuracy.

Run: ``python benchmarks/bench_train.py [--json PATH] [--device cpu|gpu|tpu] [--tiny] [--threads N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # sets up sys.path and threads before NumPy/JAX load


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--torch-max-seconds", type=float, default=30.0, help="skip PyTorch repeats past this epoch")
    parser.add_argument("--no-subprocess", action="store_true", help="skip compile and time-to-accuracy runs")
    parser.add_argument("--child", choices=("compile", "accuracy"), help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=128, help=argparse.SUPPRESS)
    parser.add_argument("--n-train", type=int, default=60_000, help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, help=argparse.SUPPRESS)


ARGS = common.parse_args(__doc__.splitlines()[0], _add_arguments)

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxmlp import reference, train  # noqa: E402

ACCURACY_GOALS = (0.95, 0.96)
TOLERANCE = 1e-4  # relative error of one step's update vs NumPy's, float32
#: Pause before each timed epoch. OpenBLAS and PyTorch's OpenMP workers spin after a call; without a pause they
#: take the second core from the next implementation in the alternation (seen: scan epoch 111 ms vs 64 ms alone).
SETTLE_SECONDS = 0.0 if ARGS.tiny else 0.3


def seed_config(batch: int) -> train.TrainConfig:
    """The article's network and rule at ``batch``: sigmoid, quadratic cost, N(0, 1) init, ``p - 3.0 * grad``.

    Constant learning rate and no shifts, which is what every baseline does (fixed here, not read from a preset).
    """
    return train.TrainConfig(
        activation="sigmoid", output="sigmoid", cost="quadratic", init="normal", optimizer="gd", lr=3.0,
        schedule="constant", batch_size=batch, shift=0,
    )  # fmt: skip


def numpy_params(params: Any) -> list[dict[str, np.ndarray]]:
    return [{k: np.array(v) for k, v in layer.items()} for layer in params]


class Scan:
    """jaxmlp's epoch: ``_epoch_fn(config, n)`` compiled once, called once per epoch."""

    name = "jaxmlp scan"

    def __init__(self, config: train.TrainConfig, x: np.ndarray, y: np.ndarray):
        self.x, self.y = jax.device_put(x), jax.device_put(y)
        self.state = train.init_state(config)
        self.compiled = train._epoch_fn(config, len(x)).lower(self.state, self.x, self.y).compile()

    def epoch(self) -> None:
        self.state, costs = self.compiled(self.state, self.x, self.y)
        jax.block_until_ready(costs)


class PythonLoop:
    """JAX's MNIST-example pattern: NumPy permutation and batches on the host, one jitted step call per batch."""

    name = "Python loop of jitted steps"

    def __init__(self, config: train.TrainConfig, x: np.ndarray, y: np.ndarray):
        self.x, self.y, self.batch = (x / np.float32(255)).astype(np.float32), y, config.batch_size
        self.params = train.init_state(config).params
        self.step = jax.jit(lambda p, xb, yb: train.gradient_descent_step(p, xb, yb, config.lr, config))
        self.rng = np.random.default_rng(1)

    def epoch(self) -> None:
        order, params = self.rng.permutation(len(self.x)), self.params
        for i in range(len(self.x) // self.batch):
            idx = order[i * self.batch : (i + 1) * self.batch]
            params = self.step(params, self.x[idx], self.y[idx])
        self.params = jax.block_until_ready(params)


class NumPyEpoch:
    """Hand-written NumPy minibatch gradient descent: ``p - lr * jaxmlp.reference.backprop(...)`` per batch."""

    name = "NumPy (reference.backprop)"

    def __init__(self, config: train.TrainConfig, x: np.ndarray, y: np.ndarray):
        self.x, self.y, self.batch, self.lr = (x / np.float32(255)).astype(np.float32), y, config.batch_size, config.lr
        self.params = numpy_params(train.init_state(config).params)
        self.rng = np.random.default_rng(2)

    def step(self, params: list[dict[str, np.ndarray]], xb: np.ndarray, yb: np.ndarray) -> list[dict[str, np.ndarray]]:
        grads = reference.backprop(params, xb, yb)
        return [{k: p[k] - np.float32(self.lr) * g[k] for k in p} for p, g in zip(params, grads, strict=True)]

    def epoch(self) -> None:
        order = self.rng.permutation(len(self.x))
        for i in range(len(self.x) // self.batch):
            idx = order[i * self.batch : (i + 1) * self.batch]
            self.params = self.step(self.params, self.x[idx], self.y[idx])


class TorchEpoch:
    """PyTorch eager: the same forward, cost ``mean sum (a - onehot)^2`` and rule, autograd for the gradient."""

    name = "PyTorch eager"

    def __init__(self, config: train.TrainConfig, x: np.ndarray, y: np.ndarray):
        import torch

        self.torch, self.batch, self.lr = torch, config.batch_size, config.lr
        self.x = torch.from_numpy((x / np.float32(255)).astype(np.float32))
        self.y = torch.from_numpy(y.astype(np.int64))
        start = numpy_params(train.init_state(config).params)
        self.params = [torch.tensor(a, requires_grad=True) for a in jax.tree.leaves(start)]  # b1, w1, b2, ...
        self.gen = torch.Generator().manual_seed(3)

    def step(self, xb: Any, yb: Any) -> None:
        torch = self.torch
        b1, w1, b2, w2, b3, w3 = self.params  # jax.tree.leaves orders each layer's dict as b, w
        a = torch.sigmoid(torch.sigmoid(torch.sigmoid(xb @ w1 + b1) @ w2 + b2) @ w3 + b3)
        cost = ((a - torch.nn.functional.one_hot(yb, 10)) ** 2).sum(dim=1).mean()
        grads = torch.autograd.grad(cost, self.params)
        with torch.no_grad():
            for p, g in zip(self.params, grads, strict=True):
                p.sub_(self.lr * g)

    def epoch(self) -> None:
        order = self.torch.randperm(len(self.x), generator=self.gen)
        for i in range(len(self.x) // self.batch):
            idx = order[i * self.batch : (i + 1) * self.batch]
            self.step(self.x[idx], self.y[idx])


def update_error(new: Any, old: Any, want: Any) -> float:
    """Largest over the leaves of ``||(new - old) - (want - old)|| / ||want - old||``: one step's update vs NumPy's."""
    errs = []
    for n, o, w in zip(jax.tree.leaves(new), jax.tree.leaves(old), jax.tree.leaves(want), strict=True):
        n, o, w = (np.asarray(a, np.float64) for a in (n, o, w))
        errs.append(float(np.linalg.norm(n - w) / max(np.linalg.norm(w - o), 1e-30)))
    return max(errs)


def check_one_step(x: np.ndarray, y: np.ndarray, batch: int, with_torch: bool) -> dict[str, Any]:
    """One step from the same parameters on the same batch: every implementation's update vs NumPy's."""
    config = seed_config(batch)
    xb, yb = x[:batch], y[:batch]
    start = numpy_params(train.init_state(config).params)
    want = NumPyEpoch(config, xb, yb).step(start, (xb / np.float32(255)).astype(np.float32), yb)
    scan = Scan(config, xb, yb)  # n_train == batch: one full-batch step, no shuffling
    scan.epoch()
    loop = PythonLoop(config, xb, yb)
    loop.epoch()
    errors = {"scan": update_error(scan.state.params, start, want), "loop": update_error(loop.params, start, want)}
    if with_torch:
        torch_run = TorchEpoch(config, xb, yb)
        torch_run.epoch()
        b1, w1, b2, w2, b3, w3 = (p.detach().numpy() for p in torch_run.params)
        got = [{"b": b1, "w": w1}, {"b": b2, "w": w2}, {"b": b3, "w": w3}]
        errors["torch"] = update_error(got, start, want)
    return {"batch": batch, "update_relative_error_vs_numpy": errors, "pass": max(errors.values()) <= TOLERANCE}


def time_epochs(x: np.ndarray, y: np.ndarray, batch: int, repeats: int, with_torch: bool) -> dict[str, Any]:
    """Epoch seconds of each implementation at ``batch``: one warm-up epoch each, then ``repeats`` alternated."""
    config = seed_config(batch)
    kinds = [Scan, PythonLoop, NumPyEpoch] + ([TorchEpoch] if with_torch else [])
    runs = {kind.name: kind(config, x, y) for kind in kinds}
    times: dict[str, list[float]] = {name: [] for name in runs}
    notes = []
    for rep in range(repeats + 1):  # rep 0 is the warm-up
        for name, run in runs.items():
            if name == TorchEpoch.name and rep > 0 and times[name] and times[name][-1] > ARGS.torch_max_seconds:
                continue
            time.sleep(SETTLE_SECONDS)  # let the previous library's spinning worker threads go idle
            start = time.perf_counter()
            run.epoch()
            seconds = time.perf_counter() - start
            if rep > 0 or (name == TorchEpoch.name and seconds > ARGS.torch_max_seconds):
                times[name].append(seconds)
    if with_torch and len(times[TorchEpoch.name]) < repeats:
        notes.append(f"PyTorch epoch took > {ARGS.torch_max_seconds} s; repeats skipped")
    examples = (len(x) // batch) * batch
    stats = {name: common.summarize(t) for name, t in times.items()}
    scan_s = stats[Scan.name]["median"]
    return {
        "batch": batch,
        "examples_per_epoch": examples,
        "epoch_seconds": stats,
        "examples_per_second": {name: examples / s["median"] for name, s in stats.items()},
        "gflops": {name: examples * common.FLOP_PER_EXAMPLE / s["median"] / 1e9 for name, s in stats.items()},
        "ratio_to_scan": {name: s["median"] / scan_s for name, s in stats.items()},
        "notes": notes,
    }


def child_compile(batch: int, n_train: int) -> None:
    """Child process: report seconds to trace+lower and to compile the epoch (cache as set by the environment)."""
    start = time.perf_counter()
    train.enable_compilation_cache()
    config = seed_config(batch)
    state = train.init_state(config)
    x = jax.device_put(np.zeros((n_train, 784), np.uint8))
    y = jax.device_put(np.zeros(n_train, np.int32))
    jax.block_until_ready((state, x, y))
    t0 = time.perf_counter()
    lowered = train._epoch_fn(config, n_train).lower(state, x, y)
    t1 = time.perf_counter()
    lowered.compile()
    t2 = time.perf_counter()
    print(json.dumps({"lower_s": t1 - t0, "compile_s": t2 - t1, "total_s": t2 - t0, "setup_s": t0 - start}))


def child_accuracy(t0: float, tiny: bool) -> None:
    """Child process: train ``--preset best`` and print, per epoch, the test accuracy and seconds since ``t0``."""
    from jaxmlp import fit

    data = common.load_data(tiny)
    config = dataclasses.replace(train.PRESETS["best"], epochs=2) if tiny else train.PRESETS["best"]

    class Reached(Exception):
        pass

    def on_epoch(state: Any, history: Any) -> None:
        accuracy = history.test_accuracy[-1]
        line = {"epoch": state.epoch, "test_accuracy": accuracy, "since_start_s": time.time() - t0}
        print(json.dumps({**line, "compile_s": history.compile_seconds}), flush=True)
        if accuracy >= max(ACCURACY_GOALS):
            raise Reached

    with contextlib.suppress(Reached):
        fit(data, config, on_epoch=on_epoch)


def run_child(args: list[str], env: dict[str, str]) -> list[dict[str, Any]]:
    """Run this script as a child (fresh interpreter), return its JSON lines."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args] + (["--tiny"] if ARGS.tiny else [])
    if ARGS.device:
        cmd += ["--device", ARGS.device]
    out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def cache_env(path: str) -> dict[str, str]:
    """A private persistent compilation cache with jaxmlp's own threshold (``enable_compilation_cache``)."""
    return {"JAX_COMPILATION_CACHE_DIR": path, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.1"}


def measure_compile(batch: int, n_train: int, pairs: int) -> dict[str, Any]:
    """Epoch compile seconds in fresh processes: with an empty persistent cache, then from it; ``pairs`` times."""
    cold, warm = [], []
    for _ in range(pairs):
        with tempfile.TemporaryDirectory() as cache:
            args = ["--child", "compile", "--batch", str(batch), "--n-train", str(n_train)]
            cold.append(run_child(args, cache_env(cache))[-1])
            warm.append(run_child(args, cache_env(cache))[-1])
    return {
        "batch": batch,
        "cold": {k: common.summarize([r[k] for r in cold]) for k in cold[0]},
        "from_cache": {k: common.summarize([r[k] for r in warm]) for k in warm[0]},
    }


def time_to_accuracy() -> dict[str, Any]:
    """Seconds from process start to 95 % / 96 % test accuracy with ``--preset best``: cold, then cached compile."""
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        for label in ("cold_compile_cache", "warm_compile_cache"):
            t0 = time.time()
            lines = run_child(["--child", "accuracy", "--t0", repr(t0)], cache_env(cache))
            reached = {
                f"{goal:.0%}": next((ln["since_start_s"] for ln in lines if ln["test_accuracy"] >= goal), None)
                for goal in ACCURACY_GOALS
            }
            results[label] = {
                "seconds_to": reached,
                "epochs": len(lines),
                "best_test_accuracy": max(ln["test_accuracy"] for ln in lines),
                "compile_s": lines[0]["compile_s"],
                "first_epoch_done_s": lines[0]["since_start_s"],
            }
    return results


def main() -> None:
    if ARGS.child == "compile":
        return child_compile(ARGS.batch, ARGS.n_train)
    if ARGS.child == "accuracy":
        return child_accuracy(ARGS.t0, ARGS.tiny)
    device = common.select_device(ARGS.device)
    machine = common.machine_info(device)
    try:
        import torch

        if ARGS.threads:
            torch.set_num_threads(ARGS.threads)
        torch_threads, with_torch = torch.get_num_threads(), True
    except ImportError:
        torch_threads, with_torch = None, False
    data = common.load_data(ARGS.tiny)
    x, y = np.asarray(data.x_train), np.asarray(data.y_train, np.int32)
    batches = [16, 64] if ARGS.tiny else [16, 128, 1024]
    correctness = check_one_step(x, y, 64, with_torch)
    sgemm = common.sgemm_rates(ARGS.repeats, ARGS.tiny)
    epochs = [time_epochs(x, y, b, ARGS.repeats, with_torch) for b in batches]
    compile_times = time_acc = None
    if not ARGS.no_subprocess:
        compile_times = measure_compile(64 if ARGS.tiny else 128, len(x), 1 if ARGS.tiny else 3)
        time_acc = time_to_accuracy()
    results = {
        "benchmark": "bench_train",
        "tiny": ARGS.tiny,
        "machine": machine,
        "load_average_at_end": list(os.getloadavg()),
        "settings": {
            "repeats": ARGS.repeats,
            "batches": batches,
            "n_train": len(x),
            "network": "784-16-16-10 sigmoid, quadratic cost, plain GD lr 3.0, N(0,1) init, no shifts",
            "torch_threads": torch_threads,
            "torch": "installed" if with_torch else "not installed: pip install 'jaxmlp[bench]'",
        },
        "sgemm_gflops": sgemm,
        "correctness": correctness,
        "all_correct": correctness["pass"],
        "epochs": epochs,
        "compile": compile_times,
        "time_to_accuracy": time_acc,
        "best_preset": dataclasses.asdict(train.PRESETS["best"]),
    }
    common.write_output(ARGS.json, results, render(results))


def render(results: dict[str, Any]) -> str:
    """The markdown tables: epochs, then compile and time-to-accuracy."""
    names = list(results["epochs"][0]["epoch_seconds"])
    sgemm = results["sgemm_gflops"]["sgemm_128x784x16_best"]
    sgemm_median = results["sgemm_gflops"]["sgemm_128x784x16"]
    rows = []
    for e in results["epochs"]:
        scan = Scan.name
        rows.append(
            [e["batch"]]
            + [common.fmt_stats(e["epoch_seconds"][n]) for n in names]
            + [f"{e['ratio_to_scan'][n]:.1f}×" for n in names[1:]]
            + [f"{e['examples_per_second'][scan]:,.0f}", f"{e['gflops'][scan]:.1f} ({e['gflops'][scan] / sgemm:.0%})"]
        )
    torch_note = f" (PyTorch: {results['settings']['torch_threads']} threads)" if "PyTorch eager" in names else ""
    parts = [
        f"Machine: {common.machine_line(results['machine'])}",
        f"One epoch ({results['settings']['n_train']:,} examples; {results['settings']['network']}), ms, median "
        f"(min–max) of {results['settings']['repeats']} alternated repeats{torch_note}. Ratios: baseline / scan. "
        f"GFLOP/s at {common.FLOP_PER_EXAMPLE:,} FLOP/example, % of NumPy sgemm 128×784×16 in this run ({sgemm:.1f} "
        f"GFLOP/s fastest repeat, {sgemm_median:.1f} median):",
        common.markdown_table(
            ["batch", *names, *(f"{n} / scan" for n in names[1:]), "scan examples/s", "scan GFLOP/s"], rows
        ),
        "One step vs NumPy (relative error of the update): "
        + ", ".join(f"{k} {v:.1e}" for k, v in results["correctness"]["update_relative_error_vs_numpy"].items())
        + f" → {'pass' if results['all_correct'] else 'FAIL'}",
    ]
    if results["compile"]:
        c = results["compile"]
        parts.append(
            f"Epoch compile (batch {c['batch']}, fresh process, lower + compile), s: cold "
            f"{common.fmt_stats(c['cold']['total_s'], 1, 2)}, from persistent cache "
            f"{common.fmt_stats(c['from_cache']['total_s'], 1, 2)}"
        )
    if results["time_to_accuracy"]:
        t = results["time_to_accuracy"]
        parts.append(
            common.markdown_table(
                ["--preset best", "s to 95 %", "s to 96 %", "best accuracy", "epochs run", "compile s"],
                [
                    [
                        label.replace("_", " "),
                        *(f"{v:.1f}" if v is not None else "not reached" for v in r["seconds_to"].values()),
                        f"{r['best_test_accuracy']:.2%}",
                        r["epochs"],
                        f"{r['compile_s']:.2f}",
                    ]
                    for label, r in t.items()
                ],
            )
        )
    return "\n\n".join(parts)


if __name__ == "__main__":
    main()
