"""jaxmlp evaluate PARAMS.npz: test accuracy and cost of saved parameters."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("evaluate", help="test accuracy and cost of a params.npz", description=__doc__)
    p.add_argument("params", help="a params.npz written by 'jaxmlp train --out'")
    p.add_argument("--source", default="auto", choices=("auto", "cache", "tfds", "idx", "mirror"), help="MNIST source")
    p.add_argument("--data-dir", help="folder of IDX files (for --source idx)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import jaxmlp
    from jaxmlp.checkpoint import load_network
    from jaxmlp.cli import UsageError

    if args.data_dir and not os.path.isdir(args.data_dir):
        raise UsageError(f"--data-dir {args.data_dir} is not a folder; expected a folder holding the MNIST IDX files")
    params, config, _ = load_network(args.params)
    data = jaxmlp.load_mnist(args.source, data_dir=args.data_dir)
    cost, accuracy = jaxmlp.evaluate(params, data.x_test, data.y_test, config)
    if args.json:
        result = {"test_accuracy": accuracy, "test_cost": cost, "cost": config.cost, "data_source": data.source}
        print(json.dumps(result))
    else:
        print(f"test accuracy {accuracy:.2%}  test {config.cost} cost {cost:.4f}  ({len(data.y_test)} images)")
    return 0
