"""The notebooks: stored with the outputs of one clean run, and executable top to bottom on a fresh kernel.

The slow tests execute a temporary copy of each notebook with nbclient (the committed file is never touched),
with ``notebooks/`` as the working directory, as a learner would run it; any cell error fails the test.
To refresh the stored outputs after editing a notebook: ``python notebooks/execute.py``.
"""

import importlib.util
import shutil
import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = ["01_how_the_network_learns", "02_verify_your_backprop", "03_what_jit_buys"]
MAX_SECONDS = 240  # each should take under 2 minutes on a 2-core CPU; twice that means something grew
MAX_BYTES = 1_000_000  # stored outputs stay small: modest PNGs, no big arrays

_spec = importlib.util.spec_from_file_location("notebooks_execute", NOTEBOOKS_DIR / "execute.py")
notebooks_execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebooks_execute)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def problems(nb):
    """Error outputs and anything written to stderr (warnings included), as readable strings."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                found.append(f"cell {i}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr":
                found.append(f"cell {i} wrote to stderr: {out.text.strip()[:500]}")
    return found


def test_the_three_notebooks_are_there():
    assert [path.stem for path in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_stored_outputs_come_from_one_clean_run_in_order(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    counts = [cell.execution_count for cell in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name} was not executed top to bottom in one run; refresh it with python notebooks/execute.py"
    )
    assert problems(nb) == []
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size:,} bytes; keep outputs small"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path, mnist):
    # `mnist` makes sure the data is in the cache ($JAXMLP_CACHE_DIR, inherited by the kernel) before it starts.
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    start = time.perf_counter()
    nb = notebooks_execute.execute(copy, cwd=NOTEBOOKS_DIR)
    seconds = time.perf_counter() - start
    assert problems(nb) == []
    assert all(cell.execution_count is not None for cell in code_cells(nb))
    assert seconds < MAX_SECONDS, f"{path.name} took {seconds:.0f} s to execute; budget: under 120 s on 2 cores"
