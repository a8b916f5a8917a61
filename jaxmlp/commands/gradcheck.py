"""jaxmlp gradcheck: check a hand-derived gradient, leaf by leaf, against jax.grad or finite differences.

Without --grad-fn it checks jaxmlp's NumPy backpropagation (jaxmlp.reference). With --grad-fn
path/to/file.py:FUNCTION (or MODULE:FUNCTION on the Python path) it imports that file, which RUNS ITS CODE, with
the file's folder on sys.path (so it can import its neighbours), and checks FUNCTION(params, x, y); with
--layout nielsen, FUNCTION(net, x, y) is Nielsen's backprop of one example (see jaxmlp.gradcheck_layouts).
The function is also called on a second batch of 3 or 4 examples, so no batch-size factor can pass.
Anything it prints goes to stderr, so --json output stays clean.

exit codes:
  0  every leaf passes
  1  a leaf fails (the report says which, and which classic mistake it matches)
  2  the check could not run: bad flags, a file that cannot be imported, or an exception inside your
     function (its traceback is shown: the bug is in your code)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jaxmlp.commands.common import positive
from jaxmlp.errors import InputError

CHOICES = {
    "activation": ("sigmoid", "relu", "tanh"),
    "output": ("sigmoid", "softmax"),
    "cost": ("quadratic", "cross-entropy"),
}
LAYOUTS = ("jaxmlp", "nielsen", "nielsen-batch")


class LearnerError(Exception):
    """An exception raised inside the learner's code (import or call): shown with its traceback, exit code 2."""

    def __init__(self, what: str, error: BaseException):
        super().__init__(f"{what} raised {type(error).__name__}: {error}")
        self.error = error


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "gradcheck",
        help="check a hand-derived gradient against jax.grad or finite differences",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="params dtype (default float64)")
    p.add_argument("--batch", type=int, default=32, help="number of MNIST training images (default 32)")
    for name, choices in CHOICES.items():
        p.add_argument(f"--{name}", choices=choices, default=choices[0], help=f"default {choices[0]}")
    p.add_argument(
        "--finite-differences",
        action="store_true",
        help="compare with central finite differences in float64 instead of jax.grad",
    )
    p.add_argument(
        "--fd-mode",
        choices=("all", "directions"),
        default="all",
        help="finite differences for every parameter (default; seconds) or along random directions (faster)",
    )
    p.add_argument("--directions", type=positive(int), default=8, help="random directions per leaf (default 8)")
    p.add_argument(
        "--grad-fn",
        metavar="FILE.py:FUNCTION",
        help="your gradient, FUNCTION(params, x, y) -> [{'w': ..., 'b': ...}, ...]; "
        "this IMPORTS AND EXECUTES the file (or MODULE:FUNCTION)",
    )
    p.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="jaxmlp",
        help="jaxmlp (default): params/gradient [{'w': (n_in, n_out), 'b': (n_out,)}], x (B, 784); "
        "nielsen: Nielsen's backprop(x, y) of one example, (nabla_b, nabla_w) with (out, in) weights, "
        "called per example and averaged; nielsen-batch: the same for a batch of columns X (784, B)",
    )
    p.add_argument(
        "--tolerance", type=_tolerance, help="relative error a leaf may have (default: by dtype and reference)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for the random params and the choice of images")
    p.add_argument("--json", action="store_true", help="print the report as JSON (only JSON on stdout)")
    p.set_defaults(run=run)


def _tolerance(text: str) -> float:
    """A finite positive float (text that is no float at all gets argparse's "invalid float value")."""
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite positive number; got {text!r}")
    return value


_tolerance.__name__ = "float"


def run(args: argparse.Namespace) -> int:
    if args.batch < 1:
        raise InputError(f"--batch must be at least 1; got {args.batch}")
    if not 0 <= args.seed < 2**63:
        raise InputError(f"--seed must be an integer 0..2**63-1; got {args.seed}")
    if not args.finite_differences and (args.fd_mode != "all" or args.directions != 8):
        raise InputError("--fd-mode and --directions shape the finite-difference check: add --finite-differences")
    try:
        return _run(args)
    except LearnerError as error:
        print("".join(traceback.format_exception(error.error)).rstrip(), file=sys.stderr)
        for note in getattr(error, "__notes__", []):
            print(f"  {note}", file=sys.stderr)
        print(f"jaxmlp gradcheck: error: {error} (traceback above: the bug is in your code)", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    from jaxmlp import reference
    from jaxmlp.gradcheck import check_gradients
    from jaxmlp.model import init_params

    settings = {"activation": args.activation, "output": args.output, "cost": args.cost}
    if args.grad_fn:
        grad_fn, name = _guarded(load_grad_fn(args.grad_fn), args.grad_fn), args.grad_fn
    else:
        if args.layout != "jaxmlp":
            raise InputError("--layout needs --grad-fn (jaxmlp's own reference uses the jaxmlp layout)")
        grad_fn, name = functools.partial(reference.backprop, **settings), "jaxmlp.reference.backprop"

    x, y, images = _images(args.batch, args.seed)
    dtype = np.dtype(args.dtype)
    with jax.enable_x64(dtype == np.float64):  # float64 params need 64-bit JAX: switched on here and in the check
        params = [
            {k: np.asarray(v) for k, v in layer.items()}
            for layer in init_params(jax.random.key(args.seed), dtype=dtype)
        ]
    if params[0]["w"].dtype != dtype:  # never a silent float32 check when float64 was asked for
        raise InputError(f"--dtype {args.dtype}: the params came out {params[0]['w'].dtype}; this is a jaxmlp bug")
    report = check_gradients(
        grad_fn,
        params,
        x.astype(dtype),
        y,
        reference="finite-differences" if args.finite_differences else "jax",
        fd_mode=args.fd_mode,
        directions=args.directions,
        tolerance=args.tolerance,
        seed=args.seed,
        layout=args.layout,
        **settings,
    )
    if args.json:
        print(json.dumps({"grad_fn": name, "images": images, **settings, **report.to_dict()}, indent=2))
    else:
        print(
            f"checking {name} on {images} (784-16-16-10, {args.activation} / {args.output} output / {args.cost} cost)"
        )
        print(report)
    return 0 if report.passed else 1


def _guarded(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``function`` with its prints sent to stderr and its exceptions wrapped in ``LearnerError``."""

    @functools.wraps(function)
    def call(*args: Any) -> Any:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                return function(*args)
        except (Exception, SystemExit) as error:  # sys.exit(0) in their code must not read as "passed"
            raise LearnerError(name, _skip_own_frames(error)) from error

    return call


def _skip_own_frames(error: BaseException) -> BaseException:
    """Drop the first frame (this wrapper) so the traceback starts in the learner's code."""
    if error.__traceback__ is not None and error.__traceback__.tb_next is not None:
        error = error.with_traceback(error.__traceback__.tb_next)
    return error


def load_grad_fn(spec: str) -> Callable[..., Any]:
    """Import ``path/to/file.py:function`` (its folder put first on ``sys.path``) or ``module:function``; running
    the module's code, with its prints sent to stderr. Returns the function."""
    module_name, _, function_name = spec.rpartition(":")
    if not module_name or not function_name:
        raise InputError(f"--grad-fn must look like module:function or path/to/file.py:function; got {spec!r}")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            load = _import_file if module_name.endswith(".py") else importlib.import_module
            module = load(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.split(".")[0] == error.name.split(".")[0]:
            raise InputError(f"--grad-fn: cannot import {module_name}: {error}") from error
        raise LearnerError(f"importing {module_name}", _skip_own_frames(error)) from error
    except InputError:
        raise
    except (Exception, SystemExit) as error:  # a SyntaxError or any exception while the learner's module runs
        raise LearnerError(f"importing {module_name}", error) from error
    function: Any = module
    for part in function_name.split("."):  # also Class.method
        function = getattr(function, part, None)
    if not callable(function):
        raise InputError(f"--grad-fn: {module_name} has no function {function_name!r}")
    return function


def _import_file(filename: str) -> Any:
    path = Path(filename).resolve()
    if not path.is_file():
        raise InputError(f"--grad-fn: no file {filename}")
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so the learner's file can import its neighbours
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise InputError(f"--grad-fn: cannot import {filename} as a Python module")
    clash = sys.modules.get(path.stem)
    if clash is not None and Path(getattr(clash, "__file__", "") or "").resolve() != path:
        raise InputError(
            f"--grad-fn: {path.name} has the name of the module {path.stem!r} that Python already uses; rename it"
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # registered, as a normal import would (dataclasses, pickling need it)
    spec.loader.exec_module(module)
    return module


def _images(batch: int, seed: int) -> tuple[Any, Any, str]:
    """``batch`` MNIST training images as float pixels in [0, 1] with their labels, or random pixels without MNIST."""
    import numpy as np

    rng = np.random.default_rng(seed)
    try:
        from jaxmlp.data import load_mnist, to_float

        data = load_mnist()
    except Exception as error:  # any failure to get MNIST: random pixels check the derivation just as well
        print(f"note: MNIST not available ({type(error).__name__}: {error}); using random pixels", file=sys.stderr)
        x = rng.random((batch, 784), dtype=np.float32)
        return x, rng.integers(0, 10, batch, dtype=np.int32), f"{batch} random-pixel images"
    if batch > len(data.y_train):
        raise InputError(f"--batch must be at most {len(data.y_train)} (the MNIST training set); got {batch}")
    index = rng.choice(len(data.y_train), size=batch, replace=False)
    return to_float(data.x_train[index]), np.asarray(data.y_train[index], np.int32), f"{batch} MNIST images"
