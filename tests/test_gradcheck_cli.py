"""``jaxmlp gradcheck`` as a learner runs it, in a subprocess: exit codes 0/1/2, a file that imports its neighbour,
prints that stay off the JSON, tracebacks that point into the learner's code."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HELPERS = """
import numpy as np

def sigmoid(z):
    return 1 / (1 + np.exp(-z))
"""

LEARNER = """
import numpy as np
from helpers import sigmoid  # a neighbour of this file, not on the path by itself

print("my_backprop imported")  # learners print; this must not end up in the JSON

def grad(params, x, y, sign=1):
    print("computing my gradient")
    zs, acts = [], [x]
    for layer in params:
        zs.append(acts[-1] @ layer["w"] + layer["b"])
        acts.append(sigmoid(zs[-1]))
    n, t = len(x), np.eye(10)[y]
    delta = sign * 2 * (acts[-1] - t) * acts[-1] * (1 - acts[-1])
    out = []
    for i in range(len(params), 0, -1):
        out.insert(0, {"w": acts[i - 1].T @ delta / n, "b": delta.mean(axis=0)})
        if i > 1:
            delta = (delta @ params[i - 1]["w"].T) * acts[i - 1] * (1 - acts[i - 1])
    return out

def wrong(params, x, y):
    return grad(params, x, y, sign=-1)

def broken(params, x, y):
    return params[7]  # IndexError: the learner's bug

def nielsen(net, x, y):
    biases, weights = net
    g = grad([{"w": w.T, "b": b[:, 0]} for b, w in zip(biases, weights)], x.T, y.argmax(axis=0))
    return [layer["b"][:, None] / 2 for layer in g], [layer["w"].T / 2 for layer in g]
"""


@pytest.fixture
def learner(tmp_path):
    folder = tmp_path / "my work"
    folder.mkdir()
    (folder / "helpers.py").write_text(textwrap.dedent(HELPERS))
    (folder / "my_backprop.py").write_text(textwrap.dedent(LEARNER))
    return folder / "my_backprop.py"


def gradcheck(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "jaxmlp.cli", "gradcheck", "--batch", "4", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_exit_0_for_a_correct_gradient_from_a_file_that_imports_its_neighbour(learner, tmp_path):
    done = gradcheck("--grad-fn", f"{learner}:grad", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)  # only JSON on stdout, although the learner printed
    assert data["passed"] and data["batch_sizes"] == [4, 3]
    assert "my_backprop imported" in done.stderr and "computing my gradient" in done.stderr


def test_exit_1_names_the_mistake(learner, tmp_path):
    done = gradcheck("--grad-fn", f"{learner}:wrong", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "FAIL: layer 1 'w'" in done.stdout
    assert "the sign" in done.stdout


def test_exit_2_shows_the_learners_traceback(learner, tmp_path):
    done = gradcheck("--grad-fn", f"{learner}:broken", "--json", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert 'my_backprop.py", line' in done.stderr and "return params[7]" in done.stderr
    assert "IndexError" in done.stderr and "the bug is in your code" in done.stderr
    assert "layout='nielsen'" in done.stderr


def test_nielsen_layout_from_the_command_line(learner, tmp_path):
    done = gradcheck("--grad-fn", f"{learner}:nielsen", "--layout", "nielsen-batch", "--dtype", "float32", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "layout nielsen-batch" in done.stdout and "float32" in done.stdout


def test_help_documents_the_exit_codes_and_bad_flags_exit_2(tmp_path):
    done = gradcheck("--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "0  every leaf passes" in done.stdout and "1  a leaf fails" in done.stdout
    assert "2  the check could not run" in done.stdout
    bad = gradcheck("--tolerance", "-1", cwd=tmp_path)
    assert bad.returncode == 2 and "--tolerance" in bad.stderr


def test_sys_exit_inside_the_learners_function_is_not_a_pass(tmp_path, capsys):
    from jaxmlp import cli

    (tmp_path / "quitter.py").write_text("import sys\n\ndef grad(params, x, y):\n    sys.exit(0)\n")
    assert cli.main(["gradcheck", "--batch", "2", "--grad-fn", f"{tmp_path / 'quitter.py'}:grad"]) == 2
    assert "SystemExit" in capsys.readouterr().err


def test_a_file_named_like_a_module_in_use_is_refused(tmp_path, capsys):
    from jaxmlp import cli

    (tmp_path / "json.py").write_text("def grad(params, x, y):\n    return []\n")
    assert cli.main(["gradcheck", "--batch", "2", "--grad-fn", f"{tmp_path / 'json.py'}:grad"]) == 2
    assert "rename it" in capsys.readouterr().err
