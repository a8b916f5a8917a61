"""Shared helpers for the benchmark scripts: argument parsing, thread settings, timing, machine facts, output.

Timing method (used by both scripts): warm up first, block on every result (``jax.block_until_ready``), repeat,
and report the median with the min and max of the repeats. Callers rotate their inputs between repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: Matrix-product FLOP of one example through 784-16-16-10, forward plus backward:
#: forward 2·(784·16 + 16·16 + 16·10) = 25,920; weight gradients the same; input errors of layers 2 and 3
#: 2·(16·16 + 16·10) = 832 (the error of the input layer itself is never needed). Elementwise work is not counted.
FLOP_PER_EXAMPLE = 52_672
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
#: Shortest timed repeat, seconds (``measure`` runs enough calls back to back); tiny mode lowers it.
MIN_SECONDS = 0.05
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/bench_x.py` without the editable install
    sys.path.insert(0, str(ROOT))


def parse_args(description: str, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> Any:
    """Parse the common flags, then apply ``--threads`` before NumPy or JAX start their thread pools.

    Must run before ``numpy``/``jax`` are imported: OpenBLAS and XLA read their thread settings at start-up.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--device", choices=("cpu", "gpu", "tpu"), help="JAX device (default: JAX's default backend)")
    parser.add_argument("--tiny", action="store_true", help="CI mode: few steps, small batches, synthetic data")
    parser.add_argument("--repeats", type=int, help="timed repeats of each measurement (default 5, tiny 2)")
    parser.add_argument(
        "--threads", type=int, help="pin NumPy/OpenBLAS, XLA and PyTorch to this many threads (default: all cores)"
    )
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    if args.repeats is None:
        args.repeats = 2 if args.tiny else 5
    if args.tiny:
        global MIN_SECONDS
        MIN_SECONDS = 0.002
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
        if args.threads == 1:
            flags = os.environ.get("XLA_FLAGS", "")
            os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return args


def select_device(name: str | None) -> Any:
    """Make ``name`` ("cpu", "gpu", "tpu") JAX's default device; ``None`` keeps JAX's default backend."""
    import jax

    if name is not None:
        jax.config.update("jax_default_device", jax.devices(name)[0])
    return jax.config.jax_default_device or jax.devices()[0]


def summarize(seconds: Sequence[float]) -> dict[str, float]:
    """Median, min and max of repeated timings (seconds), and how many there were."""
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds), "n": len(seconds)}


def measure(
    call: Callable[[int], Any], repeats: int, *, min_seconds: float | None = None, warmup: int = 1
) -> list[float]:
    """Seconds per call of ``call(i)`` (which must block on its result), one figure per repeat.

    ``i`` counts calls, so ``call`` can rotate its inputs. Each repeat runs ``number`` calls back to back, with
    ``number`` chosen once so that a repeat takes at least ``min_seconds`` (default ``MIN_SECONDS``).
    """
    min_seconds = MIN_SECONDS if min_seconds is None else min_seconds
    i = 0
    for _ in range(warmup):
        call(i)
        i += 1
    start = time.perf_counter()
    call(i)
    i += 1
    once = time.perf_counter() - start
    number = max(1, int(min_seconds / max(once, 1e-9)))
    results = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call(i)
            i += 1
        results.append((time.perf_counter() - start) / number)
    return results


def sgemm_rates(repeats: int, tiny: bool = False) -> dict[str, float]:
    """GFLOP/s of NumPy's float32 matrix product here: the epoch's small shape and a large square one.

    ``NAME`` is the rate at the median repeat, ``NAME_best`` at the fastest (what the hardware can do when the
    machine is not shared at that moment; under load, multi-threaded OpenBLAS can stall far below it).
    """
    import numpy as np

    rng = np.random.default_rng(0)
    shapes = {"sgemm_128x784x16": (128, 784, 16), "sgemm_1024_square": (256,) * 3 if tiny else (1024,) * 3}
    rates = {}
    for name, (m, k, n) in shapes.items():
        a = [rng.standard_normal((m, k), np.float32) for _ in range(3)]
        b = rng.standard_normal((k, n), np.float32)
        seconds = measure(lambda i, a=a, b=b: a[i % 3] @ b, max(repeats, 5))
        rates[name] = 2 * m * k * n / statistics.median(seconds) / 1e9
        rates[f"{name}_best"] = 2 * m * k * n / min(seconds) / 1e9
    return rates


def machine_info(device: Any = None) -> dict[str, Any]:
    """CPU model, cores, memory, load, library and BLAS versions, and thread settings of this process."""
    import jax
    import numpy as np

    cpu, mhz, flags = None, None, []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu is None:
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("cpu MHz") and mhz is None:
                    mhz = float(line.split(":", 1)[1])
                elif line.startswith("flags") and not flags:
                    flags = [x for x in ("avx2", "fma", "avx512f") if x in line.split(":", 1)[1].split()]
    except OSError:
        pass
    cpu = cpu or platform.processor() or platform.machine()
    try:
        with open("/proc/meminfo") as f:
            mem_gib = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        mem_gib = None
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    info = {
        "cpu": cpu,
        "cpu_mhz": mhz,
        "cpu_flags": flags,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": mem_gib,
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": getattr(jax.lib, "__version__", None) or _version("jaxlib"),
        "optax": _version("optax"),
        "numpy": np.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '?')}",
        "torch": _version("torch"),
        "jax_backend": jax.default_backend(),
        "jax_device": str(device or jax.devices()[0]),
        "thread_env": {var: os.environ.get(var) for var in THREAD_VARS},
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    return info


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def machine_line(info: dict[str, Any]) -> str:
    """One-line description of the machine for the printed tables."""
    load = info["load_average_1_5_15"]
    threads = ", ".join(f"{k}={v}" for k, v in info["thread_env"].items() if v) or "library defaults"
    return (
        f"{info['cpu']} ({'+'.join(info['cpu_flags']) or 'no AVX2'}, {info['cpu_mhz'] or 0:.0f} MHz), "
        f"{info['cores_usable']} cores, "
        f"{info['memory_gib']} GiB; load {load[0]:.2f} at start; Python {info['python']}, jax {info['jax']}, "
        f"numpy {info['numpy']} ({info['blas']}), torch {info['torch']}; device {info['jax_device']}; "
        f"threads: {threads}"
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_stats(stats: dict[str, float] | None, scale: float = 1e3, digits: int = 1) -> str:
    """``median (min–max)`` of a ``summarize`` result, scaled (default: seconds to milliseconds)."""
    if not stats:
        return "–"
    return f"{stats['median'] * scale:.{digits}f} ({stats['min'] * scale:.{digits}f}–{stats['max'] * scale:.{digits}f})"


def synthetic_dataset(n_train: int, n_test: int, seed: int = 0) -> Any:
    """Random uint8 images with random labels (CI's tiny mode: no download, only shapes and dtypes matter)."""
    import numpy as np

    from jaxmlp.data import Dataset

    rng = np.random.default_rng(seed)
    return Dataset(
        rng.integers(0, 256, (n_train, 784), dtype=np.uint8),
        rng.integers(0, 10, n_train).astype(np.uint8),
        rng.integers(0, 256, (n_test, 784), dtype=np.uint8),
        rng.integers(0, 10, n_test).astype(np.uint8),
        source="synthetic",
    )


def load_data(tiny: bool) -> Any:
    """MNIST through ``jaxmlp.load_mnist()`` (from its cache when present), or synthetic data in tiny mode."""
    if tiny:
        return synthetic_dataset(2048, 512)
    from jaxmlp.data import load_mnist

    return load_mnist()


def write_output(path: str | None, results: dict[str, Any], table: str) -> None:
    """Write ``results`` as JSON to ``path`` (if given) and print the markdown table last."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(table, flush=True)
