"""jaxmlp predict PARAMS.npz IMAGE.png: the digit in your own picture, and all ten output activations.

The picture may be any size, dark ink on light paper or light on dark; it is prepared the way MNIST's
digits were (cropped to the ink, fitted into 20×20, centred by mass in 28×28) before the network sees it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("predict", help="read the digit in an image file", description=__doc__)
    p.add_argument("params", help="a params.npz written by 'jaxmlp train --out'")
    p.add_argument("image", help="a PNG (or JPEG, ...) of one handwritten digit")
    p.add_argument("--json", action="store_true", help='print {"digit": .., "activations": [..]} as JSON')
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from jaxmlp.checkpoint import load_network
    from jaxmlp.image import read_digit
    from jaxmlp.model import forward
    from jaxmlp.validate import to_float

    params, config, _ = load_network(args.params)
    pixels = read_digit(args.image)
    outputs = forward(params, to_float(pixels), activation=config.activation, output=config.output)
    outputs = np.asarray(outputs, np.float64)
    digit = int(np.argmax(outputs))
    if args.json:
        print(json.dumps({"digit": digit, "activations": outputs.tolist(), "image": args.image}))
        return 0
    print(f"digit: {digit}")
    for j, value in enumerate(outputs):
        bar = "#" * round(20 * min(max(value, 0.0), 1.0))
        print(f"  {j}: {value:.4f} {bar}{'  <-' if j == digit else ''}")
    return 0
