"""A training run's folder: where its files go, and the lock that keeps two runs from sharing it.

``OUT/params.npz`` (the finished network), ``OUT/metrics.json`` (``jaxmlp.train.run_metrics``),
``OUT/checkpoint.npz`` (resumable, rewritten after every epoch), ``OUT/params.diverged.npz`` (a run that
diverged: its last finite params). Without ``--out`` a run gets a new folder ``runs/<preset>-<date>-<time>``,
so the next run never overwrites it.

``RunFolder.open`` refuses, before any work, a folder that holds another run's results (unless told to
overwrite them or resuming from it), a folder another live run is writing to (an ``flock`` on ``OUT/.lock``,
released by the kernel when the process ends, however it ends), and one that cannot be written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from jaxmlp.errors import InputError
from jaxmlp.files import write_bytes

RESULT_FILES = ("params.npz", "metrics.json", "checkpoint.npz", "params.diverged.npz")
RESULT_FOLDERS = ("members",)  # an ensemble's networks
LOCK_NAME = ".lock"


def default_folder(preset: str, root: str | os.PathLike[str] = "runs") -> Path:
    """A new folder name ``ROOT/<preset>-YYYYMMDD-HHMMSS`` (with ``-2``, ``-3``, ... if that exists)."""
    base = Path(root) / f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


@dataclasses.dataclass
class RunFolder:
    """An output folder opened for one run (see the module docstring). Use as a context manager."""

    path: Path
    lock_file: IO[str] | None = None
    created: bool = False  # made by this run: removed again if the run fails before writing anything

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, overwrite: bool = False, resuming_from: str | None = None
    ) -> RunFolder:
        """Create (if needed), check and lock ``path``; raise ``InputError`` saying what to do otherwise."""
        if os.fspath(path).strip() == "":
            raise InputError("--out is empty; expected a folder name like runs/seed")
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"--out {folder} is a file; expected a folder for params.npz and metrics.json")
        created = not folder.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock_file = open(folder / LOCK_NAME, "a+")  # noqa: SIM115 - held open for the run's lifetime
        except OSError as error:
            raise InputError(
                f"--out {folder} cannot be written ({error.strerror or error}); choose another folder"
            ) from None
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock_file.seek(0)
            owner = lock_file.read().strip() or "another process"
            lock_file.close()
            raise InputError(
                f"--out {folder} is in use by another jaxmlp run ({owner}); wait for it or choose another folder"
            ) from None
        run = cls(folder, lock_file, created)
        try:
            run._check_contents(overwrite, resuming_from)
            run._check_writable()
        except BaseException:
            run.close()
            raise
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"pid {os.getpid()}\n")
        lock_file.flush()
        return run

    def _check_contents(self, overwrite: bool, resuming_from: str | None) -> None:
        for name in RESULT_FILES:
            target = self.path / name
            if os.path.lexists(target) and not target.is_file():
                raise InputError(f"{target} exists and is not a file (a folder or a dangling link); move it away first")
        for name in RESULT_FOLDERS:
            target = self.path / name
            if os.path.lexists(target) and not target.is_dir():
                raise InputError(f"{target} exists and is not a folder; move it away first")
        if overwrite:
            return
        ours = {os.path.realpath(resuming_from)} if resuming_from else set()
        others = [n for n in RESULT_FILES if (self.path / n).exists() and os.path.realpath(self.path / n) not in ours]
        others += [f"{n}/" for n in RESULT_FOLDERS if any((self.path / n).glob("*"))]
        if resuming_from and os.path.realpath(resuming_from) == os.path.realpath(self.path / "checkpoint.npz"):
            others = [n for n in others if n != "params.diverged.npz"]
        if others:
            raise InputError(
                f"--out {self.path} already holds another run's {', '.join(others)}; "
                "choose a new folder, or add --overwrite to replace them"
            )

    def _check_writable(self) -> None:
        probe = self.path / f".write-test-{os.getpid()}"
        try:
            write_bytes(probe, b"")
            probe.unlink()
        except OSError as error:
            raise InputError(
                f"--out {self.path} cannot be written ({error.strerror or error}); choose another folder"
            ) from None

    def file(self, name: str) -> Path:
        """The path of ``name`` inside the folder."""
        return self.path / name

    def write_json(self, name: str, record: dict[str, Any]) -> Path:
        """Write ``record`` as ``FOLDER/name`` atomically (strict JSON: a NaN is written as ``null``)."""
        path = self.file(name)
        write_bytes(path, json.dumps(json_safe(record), indent=2, allow_nan=False).encode())
        return path

    def close(self) -> None:
        """Release the lock (the kernel does this too if the process dies)."""
        if self.lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.lock_file, fcntl.LOCK_UN)
            self.lock_file.close()
            self.lock_file = None

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.close()
        if kind is not None and self.created:  # a run that failed early leaves no empty folder behind
            with contextlib.suppress(OSError):
                (self.path / LOCK_NAME).unlink()
                self.path.rmdir()  # only succeeds if nothing else was written


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
