"""The immutable ``Dataset`` container, its validation, and the pixel → float helper."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_PIXELS = 784
NUM_CLASSES = 10
DATASETS = ("mnist", "fashion_mnist")

# Per-class label counts of the official splits (train, test); a real load must match them exactly.
OFFICIAL_COUNTS: dict[str, tuple[list[int], list[int]]] = {
    "mnist": (
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    ),
    "fashion_mnist": ([6000] * 10, [1000] * 10),
}


def _check_pixels(name: str, x: object) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} is a {type(x).__name__}; expected a numpy.ndarray of uint8 pixels")
    if x.dtype != np.uint8:
        raise TypeError(f"{name} has dtype {x.dtype}; expected uint8 pixels 0..255 (shape (n, {NUM_PIXELS}))")
    if x.ndim != 2 or x.shape[1] != NUM_PIXELS:
        raise ValueError(f"{name} has shape {x.shape}; expected (n, {NUM_PIXELS})")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty; expected at least one image")
    return x


def _check_labels(name: str, y: object, n: int) -> np.ndarray:
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{name} is a {type(y).__name__}; expected a numpy.ndarray of integer labels")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} has dtype {y.dtype}; labels must be integers 0..9")
    if y.ndim != 1:
        raise ValueError(f"{name} has shape {y.shape}; expected ({n},)")
    if y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} labels but there are {n} images; expected one label per image")
    bad = np.flatnonzero((y < 0) | (y >= NUM_CLASSES))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name} has label {y[i]} at index {i}; labels must be integers 0..9")
    return y.astype(np.uint8, copy=False)


def _frozen(a: np.ndarray) -> np.ndarray:
    # A read-only array that owns its C-contiguous data is kept as is (loaders hand those over, saving copies);
    # anything else is copied, as read-only flags on the caller's array (or a view's base) would not freeze it.
    if a.flags.writeable or not a.flags.owndata or not a.flags.c_contiguous:
        a = np.array(a, order="C", copy=True)
        a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Dataset:
    """MNIST-style data: ``x_*`` are (n, 784) uint8 pixels 0..255 (row-major 28×28), ``y_*`` (n,) uint8 labels 0..9.

    ``source`` says where the data came from ("cache (mirror)", "mirror", "idx", "tfds", ...) and ``name`` is
    "mnist" or "fashion_mnist". Construction validates everything and makes the arrays read-only.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str = "memory"
    name: str = "mnist"

    def __post_init__(self) -> None:
        if self.name not in DATASETS:
            raise ValueError(f"name is {self.name!r}; expected one of {', '.join(DATASETS)}")
        for split in ("train", "test"):
            x = _check_pixels(f"x_{split}", getattr(self, f"x_{split}"))
            y = _check_labels(f"y_{split}", getattr(self, f"y_{split}"), x.shape[0])
            object.__setattr__(self, f"x_{split}", _frozen(x))
            object.__setattr__(self, f"y_{split}", _frozen(y))


def check_official(ds: Dataset) -> Dataset:
    """Check that ``ds`` is the full official dataset: split sizes and per-class label counts; return it."""
    for split, expected in zip(("train", "test"), OFFICIAL_COUNTS[ds.name], strict=True):
        y = getattr(ds, f"y_{split}")
        counts = np.bincount(y, minlength=NUM_CLASSES).tolist()
        if counts != expected:
            raise ValueError(
                f"{ds.name} from {ds.source}: y_{split} has {y.shape[0]} labels with per-class counts {counts}; "
                f"expected the official {sum(expected)} with counts {expected}"
            )
    return ds


def to_float(x: np.ndarray) -> np.ndarray:
    """Turn uint8 pixels 0..255 into float32 in [0, 1] by dividing by 255 (shape unchanged)."""
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise TypeError(f"to_float got dtype {x.dtype}; expected uint8 pixels 0..255")
    return x.astype(np.float32) / np.float32(255.0)
