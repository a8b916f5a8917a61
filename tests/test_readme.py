"""Every command and code block of the README runs as written, in order, after the Quick start.

The README's ```bash blocks are run line by line (lines that start with ``jaxmlp`` or ``python``) in one scratch
folder, so later commands find the files earlier ones wrote (``runs/best/params.npz``); its ```python blocks
are run as scripts there too. ``$JAXMLP_EPOCHS=1`` keeps each training short (the CLI announces the cap).
A line may end with ``# exit N`` when N is the exit code it documents. A block preceded by
``<!-- readme-test: skip REASON -->`` is not run (e.g. a two-host example). ``make`` and ``pip`` lines are the
Quick start itself, which CI runs.
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- readme-test: skip[^>]*-->\s*\n)?```(bash|python)\n(.*?)```", re.S)
EXIT = re.compile(r"#\s*exit (\d+)\s*$")


def readme_steps(text: str) -> list[tuple[str, str, int]]:
    """``(kind, code, expected exit code)`` for every runnable README line or block, in order."""
    steps = []
    for skip, kind, body in BLOCK.findall(text):
        if skip:
            continue
        if kind == "python":
            steps.append(("python", body, 0))
            continue
        for line in body.splitlines():
            words = line.strip()
            if not words.startswith(("jaxmlp ", "jaxmlp\n", "python ")) and words != "jaxmlp":
                continue
            expected = EXIT.search(words)
            command = words.split(" #")[0].strip() if " #" in words else words
            steps.append(("bash", command, int(expected[1]) if expected else 0))
    return steps


def test_the_step_finder_reads_blocks_skips_and_exit_codes():
    text = (
        "```bash\nmake train\njaxmlp train --epochs 2   # a comment\n"
        "jaxmlp gradcheck --grad-fn bad.py:g  # exit 1\n```\n"
        "<!-- readme-test: skip needs two hosts -->\n```bash\njaxmlp train --coordinator h:1\n```\n"
        "```python\nimport jaxmlp\n```\n"
    )
    assert readme_steps(text) == [
        ("bash", "jaxmlp train --epochs 2", 0),
        ("bash", "jaxmlp gradcheck --grad-fn bad.py:g", 1),
        ("python", "import jaxmlp\n", 0),
    ]


@pytest.mark.slow
def test_every_readme_command_runs_as_written(mnist, tmp_path):
    steps = readme_steps((ROOT / "README.md").read_text())
    assert len(steps) >= 8, steps  # the README shows the CLI and the library; an empty list means a broken parser
    for name in ("examples",):  # files the README's commands read, as a user's clone has them
        if (ROOT / name).exists():
            (tmp_path / name).symlink_to(ROOT / name)
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "JAXMLP_EPOCHS": "1", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("JAXMLP_COMPILATION_CACHE", None)
    for kind, code, expected in steps:
        if kind == "python":
            argv = [sys.executable, "-c", code]
        else:
            argv = shlex.split(code)
            argv[0] = os.path.join(bin_dir, argv[0]) if argv[0] == "jaxmlp" else sys.executable
        result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == expected, (
            f"README step failed ({result.returncode}):\n{code}\n{result.stderr[-3000:]}"
        )
        assert "Traceback" not in result.stderr or expected == 1, result.stderr[-3000:]
