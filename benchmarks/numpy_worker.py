"""The fair NumPy baseline, as a child process that ``bench_train.py`` drives one epoch at a time (so it alternates).

The environment here sets ``OPENBLAS_CORETYPE=Haswell`` and ``OPENBLAS_L2_SIZE``, which make OpenBLAS pick older,
slower kernels on this AVX-512 machine. ``bench_train.py`` starts this worker with both removed from ITS
environment only (never for tests or the library), and the worker reports threadpoolctl's description of the
kernel that ran. Protocol: one JSON command per stdin line, one JSON answer per stdout line:

* ``{"cmd": "load", "x": PATH.npy, "y": PATH.npy, "params": PATH.npz}``: uint8 images, labels, start params;
* ``{"cmd": "epoch", "batch": B, "threads": T}``: one shuffled epoch of the hand-written NumPy GD below;
* ``{"cmd": "matmuls", "batch": B, "threads": T}``: the epoch's 8 matrix products alone (the matmul floor);
* ``{"cmd": "step", "batch": B, "out": PATH.npz}``: one step from the start params on the first B images;
* ``{"cmd": "info"}``: threadpoolctl's view of the BLAS; ``{"cmd": "quit"}``.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

LR = np.float32(3.0)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` in place; ``exp`` overflows to inf for z < -88, which gives the right 0."""
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1
    return np.reciprocal(z, out=z)


def step(w: list[np.ndarray], b: list[np.ndarray], xb: np.ndarray, t: np.ndarray) -> None:
    """One plain-rule step of 784-16-16-10 (sigmoid, quadratic cost ``mean sum (a - t)^2``), in place, float32."""
    n = np.float32(xb.shape[0])
    a1 = sigmoid(xb @ w[0] + b[0])
    a2 = sigmoid(a1 @ w[1] + b[1])
    a3 = sigmoid(a2 @ w[2] + b[2])
    d3 = (a3 - t) * (np.float32(2) / n) * a3 * (1 - a3)
    d2 = (d3 @ w[2].T) * a2 * (1 - a2)
    d1 = (d2 @ w[1].T) * a1 * (1 - a1)
    for i, (a, d) in enumerate(((xb, d1), (a1, d2), (a2, d3))):
        w[i] -= LR * (a.T @ d)
        b[i] -= LR * d.sum(axis=0)


class Worker:
    def __init__(self) -> None:
        self.rng = np.random.default_rng(2)

    def load(self, x: str, y: str, params: str) -> dict:
        self.x = (np.load(x) / np.float32(255)).astype(np.float32)
        labels = np.load(y)
        self.t = np.eye(10, dtype=np.float32)[labels]
        with np.load(params) as p:
            self.start = [p[f"w{i}"] for i in range(3)], [p[f"b{i}"] for i in range(3)]
        self.w, self.b = [a.copy() for a in self.start[0]], [a.copy() for a in self.start[1]]
        return {"ok": True}

    def epoch(self, batch: int, threads: int) -> dict:
        with threadpool_limits(threads, user_api="blas"):
            start = time.perf_counter()
            order = self.rng.permutation(len(self.x))
            for i in range(len(self.x) // batch):
                idx = order[i * batch : (i + 1) * batch]
                step(self.w, self.b, self.x[idx], self.t[idx])
            return {"seconds": time.perf_counter() - start}

    def matmuls(self, batch: int, threads: int) -> dict:
        """The 8 products of each step (forward 3, input errors of layers 2 and 3, weight gradients 3), no more."""
        r = np.random.default_rng(0)
        x, a1, a2 = (r.random((batch, n), np.float32) for n in (784, 16, 16))
        d1, d2, d3 = (r.random((batch, n), np.float32) for n in (16, 16, 10))
        w1, w2, w3 = self.w
        with threadpool_limits(threads, user_api="blas"):
            start = time.perf_counter()
            for _ in range(len(self.x) // batch):
                x @ w1, a1 @ w2, a2 @ w3, d3 @ w3.T, d2 @ w2.T, x.T @ d1, a1.T @ d2, a2.T @ d3
            return {"seconds": time.perf_counter() - start}

    def one_step(self, batch: int, out: str) -> dict:
        w, b = [a.copy() for a in self.start[0]], [a.copy() for a in self.start[1]]
        step(w, b, self.x[:batch], self.t[:batch])
        np.savez(out, **{f"w{i}": w[i] for i in range(3)}, **{f"b{i}": b[i] for i in range(3)})
        return {"ok": True}


def main() -> None:
    np.seterr(over="ignore")  # the sigmoid's exp(-z) for very negative z: inf, then 1 / inf = 0, as intended
    worker = Worker()
    for line in sys.stdin:
        command = json.loads(line)
        name = command.pop("cmd")
        if name == "quit":
            break
        if name == "info":
            answer = {"threadpool_info": threadpool_info()}
        else:
            answer = {"load": worker.load, "epoch": worker.epoch, "matmuls": worker.matmuls, "step": worker.one_step}[
                name
            ](**command)
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
