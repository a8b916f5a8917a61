"""jaxmlp evaluate PARAMS.npz: test accuracy and cost of saved parameters."""

from __future__ import annotations

import argparse
import json
from typing import Any

from jaxmlp.commands.common import Reporter, add_data_flags, load_data


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("evaluate", help="test accuracy and cost of a params.npz", description=__doc__)
    p.add_argument("params", help="a params.npz written by 'jaxmlp train --out'")
    add_data_flags(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import jaxmlp
    from jaxmlp.checkpoint import load_network

    params, config, _ = load_network(args.params)
    data = load_data(args, Reporter(args.json))
    cost, accuracy = jaxmlp.evaluate(params, data.x_test, data.y_test, config)
    if args.json:
        result = {"test_accuracy": accuracy, "test_cost": cost, "cost": config.cost, "data_source": data.source}
        print(json.dumps(result))
    else:
        print(f"test accuracy {accuracy:.2%}  test {config.cost} cost {cost:.4f}  ({len(data.y_test)} images)")
    return 0
