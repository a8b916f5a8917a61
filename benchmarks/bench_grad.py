"""Gradient of 784-16-16-10: JAX (``jaxmlp.grads.grad``, with and without ``jit``) vs the NumPy reference.

Measured, at batch sizes 1, 64, 1024 and 60,000 (the seed's full-batch gradient):

* correctness: relative error ``max_leaf ||g_jax - g_ref|| / ||g_ref||`` against ``jaxmlp.reference.backprop``,
  in float32 and float64, for the seed's network (sigmoid, quadratic cost) and the ``best`` one (ReLU, softmax,
  cross-entropy), with JAX's matmul precision pinned to "highest";
* seconds per float32 gradient (seed network) for the NumPy reference, JAX op by op (no jit) and JAX jit,
  each call blocked on, inputs rotated between calls;
* at full batch, the time of the gradient's eight matrix products alone (jitted), for the "within 1.5×" target.

Run: ``python benchmarks/bench_grad.py [--json PATH] [--device cpu|gpu|tpu] [--tiny]``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # sets up sys.path and threads before NumPy/JAX load

ARGS = common.parse_args(__doc__.splitlines()[0])

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxmlp import grads, init_params, reference  # noqa: E402
from jaxmlp.grads import tree_relative_error  # noqa: E402

jax.config.update("jax_enable_x64", True)  # for the float64 check; every float32 array stays float32
CONFIGS = {
    "seed": {"activation": "sigmoid", "output": "sigmoid", "cost": "quadratic"},
    "best": {"activation": "relu", "output": "softmax", "cost": "cross-entropy"},
}
TOLERANCE = {"float32": 1e-4, "float64": 1e-10}
MATMUL_TARGET = 1.5  # full-batch jit gradient within 1.5× of its matrix products alone


def check_correctness(x_u8: np.ndarray, y: np.ndarray, batches: list[int]) -> list[dict[str, Any]]:
    """JAX's jitted gradient vs the NumPy reference, per dtype, network and batch size."""
    jit_grad = jax.jit(grads.grad, static_argnames=("cost", "activation", "output"))
    rows = []
    for dtype in ("float32", "float64"):
        params = init_params(jax.random.key(0), dtype=dtype)
        params_np = jax.tree.map(np.asarray, params)
        for name, kwargs in CONFIGS.items():
            for batch in batches:
                xb, yb = (x_u8[:batch] / 255.0).astype(dtype), y[:batch]
                with jax.default_matmul_precision("highest"):
                    got = jit_grad(params, jnp.asarray(xb), jnp.asarray(yb), **kwargs)
                err = tree_relative_error(got, reference.backprop(params_np, xb, yb, **kwargs))
                ok = err <= TOLERANCE[dtype]
                rows.append({"dtype": dtype, "network": name, "batch": batch, "relative_error": err, "pass": ok})
    return rows


def matmuls_only(params: Any, x: jax.Array, d1: jax.Array, d2: jax.Array, d3: jax.Array) -> tuple[jax.Array, ...]:
    """The eight matrix products of one forward + backward pass, same shapes, nothing else (no activations)."""
    w1, w2, w3 = (layer["w"] for layer in params)
    a1 = x @ w1
    a2 = a1 @ w2
    return a2 @ w3, d3 @ w3.T, d2 @ w2.T, a2.T @ d3, a1.T @ d2, x.T @ d1


def rotated_inputs(x_u8: np.ndarray, y: np.ndarray, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Distinct float32 input sets to rotate through: 3 disjoint slices, or 2 shifted copies at full batch."""
    if batch * 3 <= len(x_u8):
        picks = [(x_u8[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch]) for i in range(3)]
    else:
        picks = [(np.roll(x_u8, 7919 * i, axis=0)[:batch], np.roll(y, 7919 * i)[:batch]) for i in range(2)]
    return [((xb / np.float32(255)).astype(np.float32), yb) for xb, yb in picks]


def time_batch(params: Any, x_u8: np.ndarray, y: np.ndarray, batch: int, full: bool, repeats: int) -> dict[str, Any]:
    """Seconds per float32 gradient of the seed network at ``batch``: NumPy reference, JAX op by op, JAX jit."""
    params_np = jax.tree.map(np.asarray, params)
    kwargs = CONFIGS["seed"]
    jit_grad = jax.jit(grads.grad, static_argnames=("cost", "activation", "output"))
    sets_np = rotated_inputs(x_u8, y, batch)
    sets_jax = [(jax.device_put(a), jax.device_put(b)) for a, b in sets_np]
    n = len(sets_np)
    times = {
        "numpy_reference": common.measure(lambda i: reference.backprop(params_np, *sets_np[i % n], **kwargs), repeats),
        "jax_no_jit": common.measure(
            lambda i: jax.block_until_ready(grads.grad(params, *sets_jax[i % n], **kwargs)), repeats
        ),
        "jax_jit": common.measure(
            lambda i: jax.block_until_ready(jit_grad(params, *sets_jax[i % n], **kwargs)), repeats
        ),
    }
    row: dict[str, Any] = {"batch": batch, **{k: common.summarize(v) for k, v in times.items()}}
    jit_s = row["jax_jit"]["median"]
    row["numpy_over_jit"] = row["numpy_reference"]["median"] / jit_s
    row["no_jit_over_jit"] = row["jax_no_jit"]["median"] / jit_s
    row["jit_gflops"] = batch * common.FLOP_PER_EXAMPLE / jit_s / 1e9
    if full:  # compare with the gradient's matrix products alone, fed stand-in errors of the right shapes
        jit_matmuls = jax.jit(matmuls_only)
        errs = [
            [jax.device_put(np.full((batch, k), 0.01 * (i + 1), np.float32)) for k in (16, 16, 10)] for i in range(n)
        ]
        mm = common.measure(
            lambda i: jax.block_until_ready(jit_matmuls(params, sets_jax[i % n][0], *errs[i % n])), repeats
        )
        row["matmuls_only"] = common.summarize(mm)
        row["jit_over_matmuls"] = jit_s / row["matmuls_only"]["median"]
        row["matmuls_gflops"] = batch * common.FLOP_PER_EXAMPLE / row["matmuls_only"]["median"] / 1e9
    return row


def time_gradients(x_u8: np.ndarray, y: np.ndarray, batches: list[int], repeats: int) -> list[dict[str, Any]]:
    """``time_batch`` for every batch size; the last one is the full batch."""
    params = init_params(jax.random.key(0))
    return [time_batch(params, x_u8, y, b, b == batches[-1], repeats) for b in batches]


def main() -> None:
    device = common.select_device(ARGS.device)
    machine = common.machine_info(device)
    data = common.load_data(ARGS.tiny)
    x_u8, y = np.asarray(data.x_train), np.asarray(data.y_train, np.int32)
    batches = [1, 64, 256] if ARGS.tiny else [1, 64, 1024, len(x_u8)]
    correctness = check_correctness(x_u8, y, batches)
    timings = time_gradients(x_u8, y, batches, ARGS.repeats)
    sgemm = common.sgemm_rates(ARGS.repeats, ARGS.tiny)
    full = timings[-1]
    results = {
        "benchmark": "bench_grad",
        "tiny": ARGS.tiny,
        "machine": machine,
        "load_average_at_end": list(os.getloadavg()),
        "settings": {"repeats": ARGS.repeats, "batches": batches, "dtype_timed": "float32", "network": "seed"},
        "sgemm_gflops": sgemm,
        "correctness": correctness,
        "all_correct": all(row["pass"] for row in correctness),
        "timings": timings,
        "targets": {
            "full_batch_jit_over_matmuls": full["jit_over_matmuls"],
            "full_batch_jit_within_1_5x_of_matmuls": full["jit_over_matmuls"] <= MATMUL_TARGET,
        },
    }
    common.write_output(ARGS.json, results, render(results))


def render(results: dict[str, Any]) -> str:
    """The markdown tables: timings, then correctness."""
    us = 1e6
    timing_rows = [
        [
            row["batch"],
            common.fmt_stats(row["numpy_reference"], us),
            common.fmt_stats(row["jax_no_jit"], us),
            common.fmt_stats(row["jax_jit"], us),
            f"{row['numpy_over_jit']:.1f}×",
            f"{row['no_jit_over_jit']:.1f}×",
            f"{row['jit_gflops']:.1f}",
        ]
        for row in results["timings"]
    ]
    full = results["timings"][-1]
    corr: dict[tuple[str, str], list[float]] = {}
    for row in results["correctness"]:
        corr.setdefault((row["dtype"], row["network"]), []).append(row["relative_error"])
    sgemm = ", ".join(f"{k} {v:.1f}" for k, v in results["sgemm_gflops"].items())
    return "\n\n".join(
        [
            f"Machine: {common.machine_line(results['machine'])}",
            "Gradient of 784-16-16-10 (seed network, float32), µs per gradient, median (min–max) of "
            f"{results['settings']['repeats']} repeats:",
            common.markdown_table(
                ["batch", "NumPy reference", "JAX no jit", "JAX jit", "NumPy / jit", "no jit / jit", "jit GFLOP/s"],
                timing_rows,
            ),
            f"Full batch ({full['batch']}): jit gradient {full['jax_jit']['median'] * 1e3:.1f} ms vs its 8 matrix "
            f"products alone {common.fmt_stats(full['matmuls_only'])} ms ({full['matmuls_gflops']:.1f} GFLOP/s) → "
            f"{full['jit_over_matmuls']:.2f}× (target ≤ {MATMUL_TARGET}×). NumPy sgemm GFLOP/s: {sgemm}.",
            "Correctness vs jaxmlp.reference (max relative error over batches "
            f"{', '.join(str(b) for b in results['settings']['batches'])}; matmul precision 'highest'):",
            common.markdown_table(
                ["dtype", "network", "max relative error", "tolerance", "pass"],
                [
                    [
                        dtype,
                        net,
                        f"{max(errs):.1e}",
                        f"{TOLERANCE[dtype]:.0e}",
                        all(e <= TOLERANCE[dtype] for e in errs),
                    ]
                    for (dtype, net), errs in corr.items()
                ],
            ),
        ]
    )


if __name__ == "__main__":
    main()
