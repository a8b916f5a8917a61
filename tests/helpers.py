"""Helpers shared by the test modules (imported as ``from helpers import ...``; pytest puts tests/ on the path)."""

from __future__ import annotations

import socket

import jax
import numpy as np

import jaxmlp


def trees_equal(a: object, b: object) -> bool:
    """Two pytrees with the same leaves, bit for bit (and the same dtypes)."""
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(
        np.asarray(x).dtype == np.asarray(y).dtype and np.array_equal(x, y) for x, y in zip(la, lb, strict=True)
    )


def all_finite(tree: object) -> bool:
    """Every leaf of ``tree`` holds only finite numbers."""
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree.leaves(tree))


def mnist_slice(mnist: jaxmlp.Dataset, n_train: int, n_test: int) -> jaxmlp.Dataset:
    """The first ``n_train`` training and ``n_test`` test images of real MNIST, as a ``Dataset``."""
    return jaxmlp.Dataset(
        mnist.x_train[:n_train], mnist.y_train[:n_train], mnist.x_test[:n_test], mnist.y_test[:n_test]
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
