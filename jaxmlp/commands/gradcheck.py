"""jaxmlp gradcheck: check a hand-derived gradient, leaf by leaf, against jax.grad or finite differences.

Without --grad-fn it checks jaxmlp's NumPy backpropagation (jaxmlp.reference). With
--grad-fn MODULE:FUNCTION it imports MODULE (a module on the Python path, or a file path/to/file.py),
which runs its code, and checks FUNCTION(params, x, y). Exits 0 when every leaf passes, 1 when one fails.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jaxmlp.errors import InputError as UsageError

CHOICES = {
    "activation": ("sigmoid", "relu", "tanh"),
    "output": ("sigmoid", "softmax"),
    "cost": ("quadratic", "cross-entropy"),
}


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
    p.add_argument(
        "--grad-fn",
        metavar="MODULE:FUNCTION",
        help="your gradient, FUNCTION(params, x, y) -> [{'w': ..., 'b': ...}, ...]; "
        "this IMPORTS AND EXECUTES the named module (or path/to/file.py)",
    )
    p.add_argument("--tolerance", type=float, help="relative error a leaf may have (default: by dtype and reference)")
    p.add_argument("--seed", type=int, default=0, help="seed for the random params and the choice of images")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    from jaxmlp import reference
    from jaxmlp.gradcheck import check_gradients
    from jaxmlp.model import init_params

    if args.batch < 1:
        raise UsageError(f"--batch must be at least 1; got {args.batch}")
    settings = {"activation": args.activation, "output": args.output, "cost": args.cost}
    if args.grad_fn:
        grad_fn, name = load_grad_fn(args.grad_fn), args.grad_fn
    else:
        grad_fn, name = functools.partial(reference.backprop, **settings), "jaxmlp.reference.backprop"

    x, y, images = _images(args.batch, args.seed)
    dtype = np.dtype(args.dtype)
    with jax.enable_x64(dtype == np.float64):
        params = [
            {k: np.asarray(v) for k, v in layer.items()}
            for layer in init_params(jax.random.key(args.seed), dtype=dtype)
        ]

    report = check_gradients(
        grad_fn,
        params,
        x,
        y,
        reference="finite-differences" if args.finite_differences else "jax",
        fd_mode=args.fd_mode,
        tolerance=args.tolerance,
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


def load_grad_fn(spec: str) -> Callable[..., Any]:
    """Import ``module:function`` or ``path/to/file.py:function`` (running the module's code); return the function."""
    module_name, _, function_name = spec.rpartition(":")
    if not module_name or not function_name:
        raise UsageError(f"--grad-fn must look like module:function or path/to/file.py:function; got {spec!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise UsageError(f"--grad-fn: no file {module_name}")
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(f"--grad-fn: cannot import {module_name}: {error}") from error
    function = getattr(module, function_name, None)
    if not callable(function):
        raise UsageError(f"--grad-fn: {module_name} has no function {function_name!r}")
    return function


def _images(batch: int, seed: int) -> tuple[Any, Any, str]:
    """``batch`` MNIST training images as float pixels in [0, 1] with their labels, or random pixels without MNIST."""
    import numpy as np

    rng = np.random.default_rng(seed)
    try:
        from jaxmlp.data import load_mnist, to_float

        data = load_mnist()
        index = rng.choice(len(data.y_train), size=min(batch, len(data.y_train)), replace=False)
        return to_float(data.x_train[index]), np.asarray(data.y_train[index], np.int32), f"{len(index)} MNIST images"
    except Exception as error:  # any failure to get MNIST: random pixels check the derivation just as well
        print(f"note: MNIST not available ({type(error).__name__}: {error}); using random pixels", file=sys.stderr)
        x = rng.random((batch, 784), dtype=np.float32)
        return x, rng.integers(0, 10, batch, dtype=np.int32), f"{batch} random-pixel images"
