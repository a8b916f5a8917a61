"""The on-disk cache: ``<cache dir>/<dataset>.npz`` (uncompressed, no pickle) plus ``<dataset>.npz.sha256``.

The folder is ``cache_dir`` if given, else ``$JAXMLP_CACHE_DIR``, else ``$XDG_CACHE_HOME/jaxmlp``, else
``~/.cache/jaxmlp``. Files are written atomically (temp file in the same folder, fsync, ``os.replace``); the
checksum file is written last, so a cache without one is incomplete.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np

from jaxmlp.data.dataset import Dataset, check_official
from jaxmlp.errors import InputError
from jaxmlp.files import atomic_write, cache_root

KEYS = ("x_train", "y_train", "x_test", "y_test")


class CacheCorruptError(InputError):
    """A cache file exists but is truncated, fails its checksum, or holds the wrong arrays."""


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder (see ``jaxmlp.files.cache_root``)."""
    return cache_root(override)


def cache_path(dataset: str, override: str | os.PathLike[str] | None = None) -> Path:
    """Path of ``dataset``'s cache file (``mnist.npz`` or ``fashion_mnist.npz``)."""
    return cache_dir(override) / f"{dataset}.npz"


def save_cache(ds: Dataset, override: str | os.PathLike[str] | None = None) -> Path:
    """Write ``ds`` (and its original source name) to the cache; return the ``.npz`` path."""
    path = cache_path(ds.name, override)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **{k: getattr(ds, k) for k in KEYS}, source=np.array(ds.source))
    data = buf.getvalue()
    atomic_write(path, lambda f: f.write(data))
    checksum = f"{hashlib.sha256(data).hexdigest()}  {path.name}\n".encode()
    atomic_write(path.with_name(path.name + ".sha256"), lambda f: f.write(checksum))
    return path


def load_cache(dataset: str, override: str | os.PathLike[str] | None = None) -> Dataset | None:
    """The cached ``dataset`` (source "cache (<original source>)"), None if absent, CacheCorruptError if damaged."""
    path = cache_path(dataset, override)
    if not path.is_file():
        return None
    sha_path = path.with_name(path.name + ".sha256")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CacheCorruptError(f"{path}: unreadable ({error.strerror or error})") from None
    try:
        expected = sha_path.read_text(encoding="ascii").split()[0]
    except (OSError, IndexError, UnicodeDecodeError):  # missing, empty, a folder, binary garbage: all rebuildable
        raise CacheCorruptError(f"{path}: checksum file {sha_path.name} is missing, empty or damaged") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise CacheCorruptError(f"{path}: SHA-256 {digest[:12]}… does not match {sha_path.name} ({expected[:12]}…)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in KEYS}
            for a in arrays.values():
                a.setflags(write=False)  # fresh arrays: Dataset can keep them without copying
            source = str(npz["source"])
        ds = Dataset(**arrays, source=f"cache ({source})", name=dataset)
        return check_official(ds)
    except (OSError, EOFError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as e:
        raise CacheCorruptError(f"{path}: unreadable or wrong contents ({e})") from e
