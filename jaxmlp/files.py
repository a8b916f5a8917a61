"""Files: atomic writes that respect the umask, the cache folder, and the versions stored in every file.

A leaf module: it imports nothing else from jaxmlp, so the data cache, checkpoints and commands can all use it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(file)`` on a temp file beside ``path``, fsync it, then rename it over ``path``.

    An interrupted or failed write (full disk, Ctrl-C, an exception in ``write``) leaves ``path`` as it was and
    no temp file behind. The new file gets the mode any other tool would give it (``0o666`` less the umask);
    ``tempfile`` alone would make it ``0o600``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see ``atomic_write``)."""
    atomic_write(path, lambda f: f.write(data))


def cache_root(override: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``override``, else ``$JAXMLP_CACHE_DIR``, ``$XDG_CACHE_HOME/jaxmlp``, ``~/.cache/jaxmlp``."""
    if override is not None and os.fspath(override) != "":
        return Path(override).expanduser()
    if os.environ.get("JAXMLP_CACHE_DIR"):
        return Path(os.environ["JAXMLP_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "jaxmlp"


def versions() -> dict[str, str]:
    """Versions of jaxmlp, jax, optax, numpy and Python (stored in every file and metrics record)."""
    import jax
    import numpy as np
    import optax

    from jaxmlp import __version__

    return {
        "jaxmlp": __version__,
        "jax": jax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


def _umask() -> int:
    """The process's umask. Linux shows it in /proc; elsewhere it can only be read by setting it and back."""
    with contextlib.suppress(OSError, ValueError, StopIteration), open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
