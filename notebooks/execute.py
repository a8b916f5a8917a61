"""Execute notebooks top to bottom and store their outputs in place (the committed notebooks keep outputs).

    .venv/bin/python notebooks/execute.py                 # every notebooks/*.ipynb
    .venv/bin/python notebooks/execute.py notebooks/01_how_the_network_learns.ipynb

Each notebook runs in a fresh kernel with ``notebooks/`` as its working directory; a failing cell stops it with
the cell's error and leaves the file untouched. ``tests/test_notebooks.py`` uses ``execute`` on temporary copies.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
CELL_TIMEOUT_S = 300


def execute(path: str | Path, *, cwd: str | Path = HERE, timeout: int = CELL_TIMEOUT_S) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` in a fresh ``python3`` kernel and return it with outputs (file untouched)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        record_timing=False,  # no timestamps in the stored notebook: re-running changes only what really changed
        extra_arguments=["--log-level=ERROR"],  # no kernel start-up chatter on the terminal
    )
    client.execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    args = parser.parse_args(argv)
    for path in args.notebooks or sorted(HERE.glob("*.ipynb")):
        start = time.perf_counter()
        nb = execute(path)
        nbformat.write(nb, path)
        print(f"{path}: executed in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
