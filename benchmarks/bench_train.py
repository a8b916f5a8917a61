"""One training epoch of 784-16-16-10: jaxmlp's compiled epoch vs the fair baselines, alternated in one run.

Every implementation trains the seed network (sigmoid, quadratic cost, plain rule ``p - 3.0 * grad``, N(0, 1) init,
no shifts) on the same 60,000 MNIST images at batch 16, 128 and 1024, one shuffled pass per epoch; one warm-up
epoch each, then ``--repeats`` rounds in which every implementation runs one epoch in turn (medians reported):

* ``jaxmlp epoch``: ``jaxmlp.epoch.compiled_epoch`` (what ``fit`` runs): one jitted program per epoch;
* ``jaxmlp epoch @731d415``: the same entry point as it was at commit 731d415 (``epoch_731d415.py``), the "before";
* ``optax loop``: a Python loop over a jitted optax ``sgd`` step, host batches sliced from a float32 copy (what a
  Flax/optax user writes);
* ``NumPy 1 thread`` / ``NumPy 2 threads``: hand-written NumPy GD (``numpy_worker.py``) in a child process whose
  environment drops ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (the fair baseline: OpenBLAS's own kernel choice);
  ``matmul floor``: that child timing only the epoch's 8 matrix products, one thread;
* ``PyTorch eager 1/2 threads``; ``torch.compile 1/2 threads`` (inductor, needs a C++ compiler; not in tiny mode).

Also measured: one step of each on the same batch against NumPy's (correctness), the epoch's compile time in fresh
processes (cold, then from the persistent cache), and seconds from process start until ``--preset best`` first
reaches 95 % and 96 % test accuracy.

Run: ``python benchmarks/bench_train.py [--json PATH] [--device cpu|gpu|tpu] [--tiny] [--threads N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
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
    parser.add_argument("--no-torch-compile", action="store_true", help="skip torch.compile (slow to compile)")
    parser.add_argument("--batches", help="comma-separated batch sizes (default 16,128,1024; tiny 64)")
    parser.add_argument("--child", choices=("compile", "accuracy"), help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=128, help=argparse.SUPPRESS)
    parser.add_argument("--n-train", type=int, default=60_000, help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, help=argparse.SUPPRESS)


ARGS = common.parse_args(__doc__.splitlines()[0], _add_arguments)

import epoch_731d415  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from jaxmlp import epoch, train  # noqa: E402
from jaxmlp.config import PRESETS, TrainConfig  # noqa: E402
from jaxmlp.grads import tree_relative_error  # noqa: E402

ACCURACY_GOALS = (0.95, 0.96)
TOLERANCE = 1e-4  # relative error of one step's update vs NumPy's, float32
#: Pause before each timed epoch. OpenBLAS and PyTorch's OpenMP workers spin after a call; without a pause they
#: take the second core from the next implementation in the alternation (seen: scan epoch 111 ms vs 64 ms alone).
SETTLE_SECONDS = 0.0 if ARGS.tiny else 0.3
#: Set by this environment to force older OpenBLAS kernels; the fair NumPy child runs without them.
UNFAIR_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
HERE = Path(__file__).resolve().parent


def seed_config(batch: int) -> TrainConfig:
    """The article's network and rule at ``batch``: sigmoid, quadratic cost, N(0, 1) init, ``p - 3.0 * grad``.

    Constant learning rate and no shifts, which is what every baseline does (fixed here, not read from a preset).
    """
    return TrainConfig(
        activation="sigmoid", output="sigmoid", cost="quadratic", init="normal", optimizer="gd", lr=3.0,
        schedule="constant", batch_size=batch, shift=0,
    )  # fmt: skip


def numpy_params(params: Any) -> list[dict[str, np.ndarray]]:
    return [{k: np.array(v) for k, v in layer.items()} for layer in params]


class Epoch:
    """jaxmlp's epoch: ``compiled_epoch(config, n)`` compiled once, called once per epoch."""

    name = "jaxmlp epoch"
    module: Any = epoch

    def __init__(self, config: TrainConfig, x: np.ndarray, y: np.ndarray):
        self.x, self.y = jax.device_put(x), jax.device_put(y)
        self.state = self.module.init_state(config)
        self.compiled = self.module.compiled_epoch(config, len(x)).lower(self.state, self.x, self.y).compile()

    def epoch(self) -> None:
        self.state, costs = self.compiled(self.state, self.x, self.y)
        jax.block_until_ready(costs)


class EpochBefore(Epoch):
    """The epoch at commit 731d415, before issue #16 (a benchmark-only copy of that ``jaxmlp/epoch.py``)."""

    name = "jaxmlp epoch @731d415"
    module = epoch_731d415


class OptaxLoop:
    """What a Flax/optax user writes: host shuffling and batches, one jitted ``optax.sgd`` step call per batch."""

    name = "optax loop"

    def __init__(self, config: TrainConfig, x: np.ndarray, y: np.ndarray):
        self.x, self.y, self.batch = (x / np.float32(255)).astype(np.float32), y, config.batch_size
        self.params = epoch.init_state(config).params
        optimizer, cost = optax.sgd(config.lr), epoch.training_cost(config)
        self.opt_state = optimizer.init(self.params)

        @jax.jit
        def step(params: Any, opt_state: Any, xb: Any, yb: Any) -> Any:
            updates, opt_state = optimizer.update(jax.grad(cost)(params, xb, yb), opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        self.step = step
        self.rng = np.random.default_rng(1)

    def epoch(self) -> None:
        order, params, opt_state = self.rng.permutation(len(self.x)), self.params, self.opt_state
        for i in range(len(self.x) // self.batch):
            idx = order[i * self.batch : (i + 1) * self.batch]
            params, opt_state = self.step(params, opt_state, self.x[idx], self.y[idx])
        self.params, self.opt_state = jax.block_until_ready((params, opt_state))


class NumPyWorker:
    """The fair NumPy child process (``numpy_worker.py``): OpenBLAS's own kernels, threads set per call."""

    def __init__(self, x: np.ndarray, y: np.ndarray, params: Any, folder: str):
        env = {k: v for k, v in os.environ.items() if k not in UNFAIR_BLAS_VARS}
        command = [sys.executable, str(HERE / "numpy_worker.py")]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        paths = {name: os.path.join(folder, f"{name}.np{'z' if name == 'params' else 'y'}") for name in "xy"}
        paths["params"] = os.path.join(folder, "params.npz")
        np.save(paths["x"], x)
        np.save(paths["y"], y)
        flat = {f"{k}{i}": np.asarray(layer[k]) for i, layer in enumerate(params) for k in ("w", "b")}
        np.savez(paths["params"], **flat)
        self.ask(cmd="load", **paths)

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def info(self) -> dict[str, Any]:
        """threadpoolctl's description of the BLAS in the child: library, version, kernel (architecture), threads."""
        return self.ask(cmd="info")["threadpool_info"]

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.proc.stdin.write('{"cmd": "quit"}\n')  # type: ignore[union-attr]
            self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(timeout=30)


class Remote:
    """One timed thing done by the NumPy child: an epoch (``cmd="epoch"``) or the matmul floor (``"matmuls"``)."""

    def __init__(self, worker: NumPyWorker, name: str, cmd: str, batch: int, threads: int):
        self.worker, self.name, self.cmd, self.batch, self.threads = worker, name, cmd, batch, threads
        self.seconds = 0.0

    def epoch(self) -> None:
        self.seconds = self.worker.ask(cmd=self.cmd, batch=self.batch, threads=self.threads)["seconds"]


class TorchEpoch:
    """PyTorch: the same forward, cost ``mean sum (a - onehot)^2`` and rule; eager autograd or ``torch.compile``."""

    def __init__(self, config: TrainConfig, x: np.ndarray, y: np.ndarray, threads: int, compiled: Any = None):
        import torch

        self.torch, self.batch, self.lr, self.threads = torch, config.batch_size, config.lr, threads
        self.name = f"{'torch.compile' if compiled else 'PyTorch eager'} {threads} thread{'s' * (threads > 1)}"
        self.x = torch.from_numpy((x / np.float32(255)).astype(np.float32))
        self.y = torch.from_numpy(y.astype(np.int64))
        start = numpy_params(epoch.init_state(config).params)
        self.params = [torch.tensor(a, requires_grad=True) for a in jax.tree.leaves(start)]  # b1, w1, b2, ...
        self.gen = torch.Generator().manual_seed(3)
        self.cost = compiled or torch_cost
        if compiled is not None:  # compile (forward and backward) now, so that no timed epoch includes it
            self.step(self.x[: self.batch], self.y[: self.batch])
            self.params = [torch.tensor(a, requires_grad=True) for a in jax.tree.leaves(start)]

    def step(self, xb: Any, yb: Any) -> None:
        grads = self.torch.autograd.grad(self.cost(self.params, xb, yb), self.params)
        with self.torch.no_grad():
            for p, g in zip(self.params, grads, strict=True):
                p.sub_(self.lr * g)

    def epoch(self) -> None:
        self.torch.set_num_threads(self.threads)
        order = self.torch.randperm(len(self.x), generator=self.gen)
        for i in range(len(self.x) // self.batch):
            idx = order[i * self.batch : (i + 1) * self.batch]
            self.step(self.x[idx], self.y[idx])


def torch_cost(params: Any, xb: Any, yb: Any) -> Any:
    import torch

    b1, w1, b2, w2, b3, w3 = params  # jax.tree.leaves orders each layer's dict as b, w
    a = torch.sigmoid(torch.sigmoid(torch.sigmoid(xb @ w1 + b1) @ w2 + b2) @ w3 + b3)
    return ((a - torch.nn.functional.one_hot(yb, 10)) ** 2).sum(dim=1).mean()


def torch_compiled_cost() -> tuple[Any, str | None]:
    """``torch.compile(torch_cost)`` when a C++ compiler is present (inductor's CPU backend needs one)."""
    if ARGS.tiny or ARGS.no_torch_compile:
        return None, "skipped (tiny mode or --no-torch-compile)"
    if not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
        return None, "no C++ compiler"
    import torch

    return torch.compile(torch_cost), None


def update_error(new: Any, old: Any, want: Any) -> float:
    """One step's update vs NumPy's: ``tree_relative_error(new - old, want - old)``."""
    delta = lambda a, b: [np.asarray(u, np.float64) - np.asarray(v, np.float64) for u, v in zip(a, b, strict=True)]  # noqa: E731
    old_leaves = jax.tree.leaves(old)
    return tree_relative_error(delta(jax.tree.leaves(new), old_leaves), delta(jax.tree.leaves(want), old_leaves))


def check_one_step(x: np.ndarray, y: np.ndarray, batch: int, worker: NumPyWorker, torch_ok: bool) -> dict[str, Any]:
    """One step from the same parameters on the same batch: every implementation's update vs the NumPy child's."""
    config = seed_config(batch)
    xb, yb = x[:batch], y[:batch]
    start = numpy_params(epoch.init_state(config).params)
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "step.npz")
        worker.ask(cmd="step", batch=batch, out=out)
        with np.load(out) as p:
            want = [{"b": p[f"b{i}"], "w": p[f"w{i}"]} for i in range(3)]
    errors = {}
    for kind in (Epoch, EpochBefore):  # n_train == batch: one full-batch step, no shuffling
        run = kind(config, xb, yb)
        run.epoch()
        errors[kind.name] = update_error(run.state.params, start, want)
    loop = OptaxLoop(config, xb, yb)
    loop.epoch()
    errors[OptaxLoop.name] = update_error(loop.params, start, want)
    if torch_ok:
        torch_run = TorchEpoch(config, xb, yb, 1)
        torch_run.epoch()
        b1, w1, b2, w2, b3, w3 = (p.detach().numpy() for p in torch_run.params)
        errors["PyTorch"] = update_error([{"b": b1, "w": w1}, {"b": b2, "w": w2}, {"b": b3, "w": w3}], start, want)
    return {"batch": batch, "update_relative_error_vs_numpy": errors, "pass": max(errors.values()) <= TOLERANCE}


def time_epochs(
    x: np.ndarray, y: np.ndarray, batch: int, worker: NumPyWorker, torch_ok: bool, compiled_cost: Any
) -> dict[str, Any]:
    """Epoch seconds of each implementation at ``batch``: one warm-up epoch each, then ``repeats`` alternated."""
    config = seed_config(batch)
    runs: list[Any] = [Epoch(config, x, y), EpochBefore(config, x, y), OptaxLoop(config, x, y)]
    runs += [Remote(worker, f"NumPy {t} thread{'s' * (t > 1)}", "epoch", batch, t) for t in (1, 2)]
    runs += [Remote(worker, "matmul floor", "matmuls", batch, 1)]
    if torch_ok:
        runs += [TorchEpoch(config, x, y, t) for t in (1, 2)]
    if compiled_cost is not None:
        runs += [TorchEpoch(config, x, y, t, compiled_cost) for t in (1, 2)]
    times: dict[str, list[float]] = {run.name: [] for run in runs}
    notes = []
    for rep in range(ARGS.repeats + 1):  # rep 0 is the warm-up (and torch.compile's compile)
        for run in runs:
            if isinstance(run, TorchEpoch) and times[run.name] and times[run.name][-1] > ARGS.torch_max_seconds:
                continue
            time.sleep(SETTLE_SECONDS)  # let the previous library's spinning worker threads go idle
            start = time.perf_counter()
            run.epoch()
            seconds = run.seconds if isinstance(run, Remote) else time.perf_counter() - start
            if rep > 0 or (isinstance(run, TorchEpoch) and seconds > ARGS.torch_max_seconds):
                times[run.name].append(seconds)
        print(f"batch {batch}, round {rep}: load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
    times = {name: t for name, t in times.items() if t}
    if any(len(t) < ARGS.repeats for t in times.values()):
        notes.append(f"a PyTorch epoch took > {ARGS.torch_max_seconds} s; its repeats were skipped")
    examples = (len(x) // batch) * batch
    stats = {name: common.summarize(t) for name, t in times.items()}
    best = {  # best thread count, by median
        family: min((n for n in stats if n.startswith(family)), key=lambda n: stats[n]["median"], default=None)
        for family in ("NumPy", "PyTorch eager", "torch.compile")
    }
    ours = stats[Epoch.name]["median"]
    return {
        "batch": batch,
        "examples_per_epoch": examples,
        "epoch_seconds": stats,
        "examples_per_second": {name: examples / s["median"] for name, s in stats.items()},
        "gflops": {name: examples * common.FLOP_PER_EXAMPLE / s["median"] / 1e9 for name, s in stats.items()},
        "ratio_to_epoch": {name: s["median"] / ours for name, s in stats.items()},
        "best_threads": {family: name for family, name in best.items() if name},
        "notes": notes,
    }


def child_compile(batch: int, n_train: int) -> None:
    """Child process: report seconds to trace+lower and to compile the epoch (cache as set by the environment)."""
    start = time.perf_counter()
    train.enable_compilation_cache()
    config = seed_config(batch)
    state = epoch.init_state(config)
    x = jax.device_put(np.zeros((n_train, 784), np.uint8))
    y = jax.device_put(np.zeros(n_train, np.int32))
    jax.block_until_ready((state, x, y))
    t0 = time.perf_counter()
    lowered = epoch.compiled_epoch(config, n_train).lower(state, x, y)
    t1 = time.perf_counter()
    lowered.compile()
    t2 = time.perf_counter()
    print(json.dumps({"lower_s": t1 - t0, "compile_s": t2 - t1, "total_s": t2 - t0, "setup_s": t0 - start}))


def child_accuracy(t0: float, tiny: bool) -> None:
    """Child process: train ``--preset best`` and print, per epoch, the test accuracy and seconds since ``t0``."""
    from jaxmlp import fit

    data = common.load_data(tiny)
    config = dataclasses.replace(PRESETS["best"], epochs=1) if tiny else PRESETS["best"]

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

        torch_ok, torch_threads = True, torch.get_num_threads()
    except ImportError:
        torch_ok, torch_threads = False, None
    compiled_cost, compile_note = torch_compiled_cost() if torch_ok else (None, "torch not installed")
    data = common.load_data(ARGS.tiny)
    x, y = np.asarray(data.x_train), np.asarray(data.y_train, np.int32)
    batches = [int(b) for b in ARGS.batches.split(",")] if ARGS.batches else [64] if ARGS.tiny else [16, 128, 1024]
    with tempfile.TemporaryDirectory() as folder:
        worker = NumPyWorker(x, y, epoch.init_state(seed_config(batches[0])).params, folder)
        try:
            blas = worker.info()
            correctness = check_one_step(x, y, 64, worker, torch_ok)
            epochs = [time_epochs(x, y, b, worker, torch_ok, compiled_cost) for b in batches]
        finally:
            worker.close()
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
            "torch_threads_default": torch_threads,
            "torch": "installed" if torch_ok else "not installed: pip install 'jaxmlp[bench]'",
            "torch_compile": compile_note or "inductor (C++ compiler present)",
            "numpy_child_env": f"{', '.join(UNFAIR_BLAS_VARS)} removed; threads set per epoch by threadpoolctl",
            "numpy_child_blas": blas,
        },
        "correctness": correctness,
        "all_correct": correctness["pass"],
        "epochs": epochs,
        "targets": targets(epochs),
        "compile": compile_times,
        "time_to_accuracy": time_acc,
        "best_preset": dataclasses.asdict(PRESETS["best"]),
    }
    common.write_output(ARGS.json, results, render(results))


def targets(epochs: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue #16's targets, each as ``{"value": measured ratio, "goal": ..., "met": bool}`` per batch."""
    out: dict[str, Any] = {}
    for e in epochs:
        ratio, best, b = e["ratio_to_epoch"], e["best_threads"], e["batch"]
        if "NumPy" in best:
            goal = 1.0 if b >= 1024 else 1.3
            out[f"faster_than_numpy_b{b}"] = {"value": ratio[best["NumPy"]], "goal": goal}
        if "matmul floor" in ratio:
            out[f"multiple_of_matmul_floor_b{b}"] = {"value": 1 / ratio["matmul floor"], "goal": 2.0, "at_most": True}
        if "PyTorch eager" in best:
            out[f"faster_than_torch_eager_b{b}"] = {"value": ratio[best["PyTorch eager"]], "goal": 3.0}
    for t in out.values():
        t["met"] = t["value"] <= t["goal"] if t.pop("at_most", False) else t["value"] >= t["goal"]
    return out


def render(results: dict[str, Any]) -> str:
    """The markdown tables: epochs (ms and ratios), targets, then compile and time-to-accuracy."""
    names = list(results["epochs"][0]["epoch_seconds"])
    rows = []
    for e in results["epochs"]:
        ours = Epoch.name
        rows.append(
            [e["batch"]] + [common.fmt_stats(e["epoch_seconds"].get(n)) for n in names] + [f"{e['gflops'][ours]:.1f}"]
        )
    ratio_rows = [
        [e["batch"]] + [f"{e['ratio_to_epoch'][n]:.2f}×" if n in e["ratio_to_epoch"] else "–" for n in names[1:]]
        for e in results["epochs"]
    ]
    blas = "; ".join(
        f"{lib.get('internal_api')} {lib.get('version')} kernel {lib.get('architecture')}"
        for lib in results["settings"]["numpy_child_blas"]
        if lib.get("user_api") == "blas"
    )
    parts = [
        f"Machine: {common.machine_line(results['machine'])}; load at end {results['load_average_at_end'][0]:.2f}",
        f"NumPy child: {results['settings']['numpy_child_env']}; BLAS: {blas or '?'}. torch.compile: "
        f"{results['settings']['torch_compile']}.",
        f"One epoch ({results['settings']['n_train']:,} examples; {results['settings']['network']}), ms, median "
        f"(min–max) of {results['settings']['repeats']} alternated repeats; jaxmlp GFLOP/s at "
        f"{common.FLOP_PER_EXAMPLE:,} FLOP/example:",
        common.markdown_table(["batch", *names, "jaxmlp GFLOP/s"], rows),
        "Each as a multiple of the jaxmlp epoch's time (> 1: jaxmlp is faster; matmul floor < 1 by definition):",
        common.markdown_table(["batch", *names[1:]], ratio_rows),
        common.markdown_table(
            ["target", "measured", "goal", "met"],
            [
                [
                    name,
                    f"{t['value']:.2f}×",
                    f"{'≤' if 'floor' in name else '≥'} {t['goal']}×",
                    "yes" if t["met"] else "**no**",
                ]
                for name, t in results["targets"].items()
            ],
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
