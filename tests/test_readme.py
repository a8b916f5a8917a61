"""Every command and code block of the README runs as written, after the Quick start (files it asks you to save
included).

The README's ```bash blocks are run line by line (lines that start with ``jaxmlp`` or ``python``, optionally
after ``NAME=value`` assignments) in one scratch folder, in order, so later commands find the files earlier ones
wrote (``runs/best/params.npz``). Then its ```python blocks run one after another in one interpreter, like a
notebook, so a block may use what an earlier block defined (``data``, ``params``). ``$JAXMLP_EPOCHS=1`` keeps
each command's training short (the CLI announces the cap) and ``JAX_NUM_CPU_DEVICES=4`` gives the multi-device
examples their devices. A line may end with ``# exit N`` when N is the exit code it documents. A block preceded
by ``<!-- readme-test: skip REASON -->`` is not run (e.g. a two-host example). A command whose comment mentions
Ctrl-C (``jaxmlp serve``) is started, stopped with Ctrl-C once it prints its address, and must exit 0.
``make`` and ``pip`` lines are the Quick start itself, which CI runs; its ``make train`` is run first, as the
command it stands for.
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- readme-test: (?:skip|save) ?([^>]*?) *-->\s*\n)?```(bash|python)\n(.*?)```", re.S)
EXIT = re.compile(r"#\s*exit (\d+)\s*$")
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")


def readme_steps(text: str) -> list[tuple[str, str, int]]:
    """``(kind, code, expected exit code)`` for every runnable README line or block, in order.

    A block marked ``<!-- readme-test: save NAME -->`` is a file the README asks you to save: ``("file", NAME, body)``.
    """
    steps: list[tuple[str, str, Any]] = []
    for marker, name, kind, body in BLOCK.findall(text):
        if marker and "save" in marker:
            steps.append(("file", name, body))
            continue
        if marker:
            continue
        if kind == "python":
            steps.append(("python", body, 0))
            continue
        for line in body.splitlines():
            words = line.strip()
            command = " ".join(w for w in words.split(" #")[0].split() if not ASSIGNMENT.match(w))
            if not (command == "jaxmlp" or command.startswith(("jaxmlp ", "python "))):
                continue
            expected = EXIT.search(words)
            kind = "server" if "Ctrl-C" in words.partition(" #")[2] else "bash"  # runs until stopped
            steps.append((kind, words.split(" #")[0].strip(), int(expected[1]) if expected else 0))
    return steps


def test_the_step_finder_reads_blocks_skips_and_exit_codes():
    text = (
        "```bash\nmake train\njaxmlp train --epochs 2   # a comment\n"
        "jaxmlp gradcheck --grad-fn bad.py:g  # exit 1\n```\n"
        "<!-- readme-test: skip needs two hosts -->\n```bash\njaxmlp train --coordinator h:1\n```\n"
        "<!-- readme-test: save mine.py -->\n```python\ndef g(): pass\n```\n"
        "```python\nimport jaxmlp\n```\n"
    )
    assert readme_steps(text) == [
        ("bash", "jaxmlp train --epochs 2", 0),
        ("bash", "jaxmlp gradcheck --grad-fn bad.py:g", 1),
        ("file", "mine.py", "def g(): pass\n"),
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
    env = {**os.environ, "JAXMLP_EPOCHS": "1", "JAX_NUM_CPU_DEVICES": "4"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    env.pop("JAXMLP_COMPILATION_CACHE", None)
    python_blocks = [code for kind, code, _ in steps if kind == "python"]
    for kind, name, body in steps:
        if kind == "file":
            (tmp_path / name).write_text(body)
    quick_start = [os.path.join(bin_dir, "jaxmlp"), "train", "--preset", "seed", "--out", "runs/seed"]  # make train
    done = subprocess.run(quick_start, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for kind, code, expected in steps:
        if kind in ("python", "file"):
            continue
        words = shlex.split(code)
        assigned = dict(w.split("=", 1) for w in words if ASSIGNMENT.match(w))
        argv = [w for w in words if not ASSIGNMENT.match(w)]
        argv[0] = os.path.join(bin_dir, "jaxmlp") if argv[0] == "jaxmlp" else sys.executable
        if kind == "server":
            result = _serve_then_stop(argv, tmp_path, {**env, **assigned})
        else:
            result = subprocess.run(
                argv, cwd=tmp_path, env={**env, **assigned}, capture_output=True, text=True, timeout=600
            )
        assert result.returncode == expected, (
            f"README step failed ({result.returncode}):\n{code}\n{result.stderr[-3000:]}"
        )
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
    driver = (
        "import sys\nnamespace = {}\nfor i, block in enumerate(BLOCKS):\n"
        "    print(f'--- README python block {i + 1}', file=sys.stderr, flush=True)\n"
        "    exec(compile(block, f'README python block {i + 1}', 'exec'), namespace)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"BLOCKS = {python_blocks!r}\n{driver}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"a README python block failed:\n{result.stderr[-4000:]}"


def _serve_then_stop(argv: list[str], cwd: pathlib.Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Start a command that serves until Ctrl-C, wait for the address it prints, press Ctrl-C."""
    import signal
    import time

    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, seen = time.monotonic() + 120, []
    while time.monotonic() < deadline and process.poll() is None:
        seen.append(process.stdout.readline())
        if "http://" in seen[-1]:
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, process.returncode, "".join(seen) + out, err)
