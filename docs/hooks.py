"""mkdocs hooks: the notebooks as pages, and the command line's ``--help`` texts pasted into ``cli.md``.

* The notebooks stay in ``notebooks/`` (where the tests and learners find them); ``on_files`` adds them to the
  site before mkdocs-jupyter's own ``on_files`` runs (hence the high priority), and mkdocs-jupyter renders them
  with their stored outputs (``execute: false``).
* A line ``<!-- help: jaxmlp train --help -->`` in a page is replaced by that command's output, run from this
  checkout, so the CLI page cannot drift from the code. A command that fails fails the build.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
HELP = re.compile(r"^<!-- help: (jaxmlp(?: [\w-]+)* --help) -->$", re.MULTILINE)


@event_priority(100)
def on_files(files: Files, config) -> Files:
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        # A plain File whose src_dir is the checkout (not File.generated): mkdocs-jupyter's wrapper reads
        # abs_src_path from src_dir + src_uri.
        src_uri = notebook.relative_to(ROOT).as_posix()
        files.append(File(src_uri, str(ROOT), config.site_dir, config.use_directory_urls))
    return files


def _help(match: re.Match[str]) -> str:
    command = shlex.split(match.group(1))
    env = {**os.environ, "COLUMNS": "100", "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    code = "import sys; from jaxmlp.cli import main; sys.argv = sys.argv[1:]; sys.exit(main())"
    run = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, env=env, cwd=ROOT)
    if run.returncode != 0:
        raise PluginError(f"docs/hooks.py: `{match.group(1)}` failed ({run.returncode}): {run.stderr.strip()}")
    return f"```text\n$ {match.group(1)}\n{run.stdout.rstrip()}\n```"


def on_page_markdown(markdown: str, page, config, files) -> str:
    return HELP.sub(_help, markdown)
