"""MNIST / Fashion-MNIST from tensorflow-datasets, returned as NumPy (needs ``pip install 'jaxmlp[tfds]'``).

tensorflow_datasets is imported lazily (it takes seconds). Examples are read in batches and concatenated:
``tfds.load(..., batch_size=-1)`` has been seen to abort the process (C++ ``std::length_error``) next to JAX.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from pathlib import Path

import numpy as np

from jaxmlp.data.dataset import Dataset

INSTALL_HINT = "pip install 'jaxmlp[tfds]'"
BATCH = 1024
PROBE_TIMEOUT_S = 3.0
# Where tfds downloads each dataset from (see tensorflow_datasets/url_checksums/*.txt).
DOWNLOAD_HOSTS = {
    "mnist": ("storage.googleapis.com", 443),
    "fashion_mnist": ("fashion-mnist.s3-website.eu-central-1.amazonaws.com", 80),
}


def tfds_installed() -> bool:
    """Whether tensorflow_datasets and tensorflow can be imported (checked without importing them)."""
    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow_datasets", "tensorflow"))


def default_data_dir() -> Path:
    """tfds's default data folder: ``$TFDS_DATA_DIR`` else ``~/tensorflow_datasets``."""
    return Path(os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets").expanduser()


def maybe_prepared(dataset: str, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Cheap pre-check (no import): False when tfds is missing or has no folder for ``dataset``."""
    return tfds_installed() and (Path(data_dir or default_data_dir()).expanduser() / dataset).is_dir()


def network_reachable(dataset: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``dataset``'s download host opens within ``timeout`` seconds."""
    try:
        with socket.create_connection(DOWNLOAD_HOSTS[dataset], timeout=timeout):
            return True
    except OSError:
        return False


def _import_tfds():
    if not tfds_installed():
        raise ImportError(f"tensorflow-datasets / tensorflow are not installed ({INSTALL_HINT})")
    import tensorflow_datasets as tfds

    return tfds


def _builder(dataset: str, data_dir: str | os.PathLike[str] | None):
    return _import_tfds().builder(dataset, data_dir=None if data_dir is None else os.fspath(data_dir))


def is_prepared(dataset: str, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether tfds has ``dataset`` downloaded and prepared (imports tfds only if its folder exists)."""
    return maybe_prepared(dataset, data_dir) and bool(_builder(dataset, data_dir).is_prepared())


def _split(tfds, builder, split: str) -> tuple[np.ndarray, np.ndarray]:
    ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    xs, ys = [], []
    for x, y in tfds.as_numpy(ds.batch(BATCH)):
        xs.append(x.reshape(x.shape[0], -1))
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def load_tfds(dataset: str = "mnist", data_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """Load ``dataset`` through tfds (source "tfds"), preparing it first if a quick network probe succeeds."""
    tfds = _import_tfds()
    builder = _builder(dataset, data_dir)
    if not builder.is_prepared():
        host, port = DOWNLOAD_HOSTS[dataset]
        if not network_reachable(dataset):
            raise ConnectionError(
                f"{dataset} is not prepared in {builder.data_dir} and {host}:{port} is unreachable "
                f"(no connection within {PROBE_TIMEOUT_S:g} s)"
            )
        builder.download_and_prepare()
    x_train, y_train = _split(tfds, builder, "train")
    x_test, y_test = _split(tfds, builder, "test")
    return Dataset(x_train, y_train, x_test, y_test, source="tfds", name=dataset)
