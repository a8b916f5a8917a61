"""IDX files (LeCun's MNIST format), parsed with NumPy.

An IDX file is a big-endian header — two zero bytes, a type byte (0x08 = unsigned byte), the number of
dimensions, then one uint32 per dimension — followed by the raw data in C order. Images are 0x00000803
(count, 28, 28) and labels 0x00000801 (count,).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

from jaxmlp.data.dataset import Dataset
from jaxmlp.errors import InputError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

# (size in bytes, SHA-256) of the published .gz files, copied from tensorflow-datasets' url_checksums.
PUBLISHED_GZ: dict[str, dict[str, tuple[int, str]]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train-labels-idx1-ubyte.gz": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "t10k-images-idx3-ubyte.gz": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "t10k-labels-idx1-ubyte.gz": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": (26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        "train-labels-idx1-ubyte.gz": (29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        "t10k-images-idx3-ubyte.gz": (4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        "t10k-labels-idx1-ubyte.gz": (5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    },
}


def encode_idx(a: np.ndarray) -> bytes:
    """Serialise a uint8 array (any number of dimensions) as IDX bytes."""
    if a.dtype != np.uint8:
        raise InputError(f"encode_idx got dtype {a.dtype}; only uint8 (IDX type 0x08) is supported")
    header = bytes([0, 0, 0x08, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(a).tobytes()


def decode_idx(data: bytes, name: str = "<bytes>", magic: int | None = None) -> np.ndarray:
    """Parse IDX bytes of unsigned bytes into a read-only uint8 array.

    ``magic`` (e.g. ``IMAGES_MAGIC``), if given, must match exactly; ``name`` is used in error messages.
    """
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found is None or (magic is not None and found != magic) or found >> 8 != 0x08:
        shown = f"0x{found:08x}" if found is not None else f"{len(data)} bytes"
        wanted = f"0x{magic:08x}" if magic is not None else "0x000008NN (unsigned bytes, NN dimensions)"
        raise InputError(f"{name}: magic number {shown}; expected {wanted}")
    ndim = data[3]
    header_len = 4 + 4 * ndim
    if ndim == 0 or len(data) < header_len:
        raise InputError(f"{name}: header truncated or has {ndim} dimensions; expected {header_len} header bytes")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64))
    actual = len(data) - header_len
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise InputError(f"{name}: {what}: header says shape {shape} = {expected} bytes of data, file has {actual}")
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape)


def _verify_gz(path: Path, raw: bytes, dataset: str) -> None:
    # Published files must match their SHA-256. A file of another size is a repackaging (Debian's recompressed
    # Fashion-MNIST is 24 bytes smaller: gzip -n drops the name), trusted on gzip's CRC-32 plus the content checks.
    digest = hashlib.sha256(raw).hexdigest()
    size, published = PUBLISHED_GZ[dataset].get(path.name, (None, None))
    if digest == published:
        return
    for other, files in PUBLISHED_GZ.items():
        if other != dataset and files.get(path.name, (0, ""))[1] == digest:
            raise InputError(f"{path}: this is the published {other} file, but dataset={dataset!r} was requested")
    if len(raw) == size:
        raise InputError(f"{path}: SHA-256 {digest} does not match the published {published} (file is corrupt)")


def read_idx(path: str | os.PathLike[str], magic: int | None = None, dataset: str = "mnist") -> np.ndarray:
    """Read one IDX file, raw or ``.gz`` (a published ``.gz`` is checked against its SHA-256)."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return decode_idx(raw, str(path), magic)
    _verify_gz(path, raw, dataset)
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: not a valid gzip file ({e})") from e
    return decode_idx(data, str(path), magic)


def find_idx_files(data_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Map x_train/y_train/x_test/y_test to their files in ``data_dir`` (``.gz`` preferred, being verifiable).

    Raises FileNotFoundError naming the missing files.
    """
    folder = Path(data_dir).expanduser()
    found, missing = {}, []
    for key, stem in FILES.items():
        candidates = [folder / f"{stem}.gz", folder / stem]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            missing.append(stem)
        else:
            found[key] = path
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)} (raw or .gz)")
    return found


def load_idx(data_dir: str | os.PathLike[str], dataset: str = "mnist") -> Dataset:
    """Load the four IDX files of ``data_dir`` into a ``Dataset`` (source "idx"), checking headers and counts."""
    paths = find_idx_files(data_dir)
    arrays = {key: read_idx(p, IMAGES_MAGIC if key[0] == "x" else LABELS_MAGIC, dataset) for key, p in paths.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        xp, yp = paths[f"x_{split}"], paths[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise InputError(f"{xp}: images have shape {x.shape}; expected (n, 28, 28)")
        if x.shape[0] != y.shape[0]:
            raise InputError(f"{xp} holds {x.shape[0]} images but {yp} holds {y.shape[0]} labels; expected equal")
        arrays[f"x_{split}"] = x.reshape(x.shape[0], 28 * 28)
    return Dataset(**arrays, source="idx", name=dataset)
