"""The immutable ``Dataset`` container; its arrays are checked by ``jaxmlp.validate`` like every other input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jaxmlp.errors import InputError
from jaxmlp.validate import NUM_CLASSES, check_images, check_labels, to_float

DATASETS = ("mnist", "fashion_mnist")

# Per-class label counts of the official splits (train, test); a real load must match them exactly.
OFFICIAL_COUNTS: dict[str, tuple[list[int], list[int]]] = {
    "mnist": (
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    ),
    "fashion_mnist": ([6000] * 10, [1000] * 10),
}


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
            raise InputError(f"name is {self.name!r}; expected one of {', '.join(DATASETS)}")
        for split in ("train", "test"):
            x = check_images(getattr(self, f"x_{split}"), f"x_{split}", uint8_only=True)
            y = check_labels(getattr(self, f"y_{split}"), x.shape[0], f"y_{split}")
            object.__setattr__(self, f"x_{split}", _frozen(np.asarray(x)))
            object.__setattr__(self, f"y_{split}", _frozen(np.asarray(y).astype(np.uint8, copy=False)))


def check_official(ds: Dataset) -> Dataset:
    """Check that ``ds`` is the full official dataset: split sizes and per-class label counts; return it."""
    for split, expected in zip(("train", "test"), OFFICIAL_COUNTS[ds.name], strict=True):
        y = getattr(ds, f"y_{split}")
        counts = np.bincount(y, minlength=NUM_CLASSES).tolist()
        if counts != expected:
            raise InputError(
                f"{ds.name} from {ds.source}: y_{split} has {y.shape[0]} labels with per-class counts {counts}; "
                f"expected the official {sum(expected)} with counts {expected}"
            )
    return ds


__all__ = ["DATASETS", "OFFICIAL_COUNTS", "Dataset", "check_official", "to_float"]
