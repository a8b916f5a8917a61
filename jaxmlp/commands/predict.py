"""jaxmlp predict PARAMS.npz IMAGE.png: the digit in your own picture, and all ten output activations.

The picture may be any size, dark ink on light paper or light on dark; it is prepared the way MNIST's
digits were (cropped to the ink, fitted into 20×20, centred by mass in 28×28) before the network sees it.
With --out DIR it also draws DIR/network.png: your digit going through the network, as 'jaxmlp serve' shows it.
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
    p.add_argument("--out", help="folder for network.png: the digit going through the network (needs matplotlib)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from jaxmlp.checkpoint import load_network
    from jaxmlp.image import read_digit
    from jaxmlp.model import layer_activations
    from jaxmlp.validate import to_float

    params, config, _ = load_network(args.params)
    pixels = read_digit(args.image)
    acts = layer_activations(params, to_float(pixels), activation=config.activation, output=config.output)
    outputs = np.asarray(acts[-1], np.float64)
    digit = int(np.argmax(outputs))
    picture = _draw(args, params, acts, digit) if args.out else None
    if args.json:
        result = {"digit": digit, "activations": outputs.tolist(), "image": args.image}
        print(json.dumps({**result, **({"picture": picture} if picture else {})}))
        return 0
    print(f"digit: {digit}")
    for j, value in enumerate(outputs):
        bar = "#" * round(20 * min(max(value, 0.0), 1.0))
        print(f"  {j}: {value:.4f} {bar}{'  <-' if j == digit else ''}")
    if picture:
        print(f"wrote {picture}")
    return 0


def _draw(args: argparse.Namespace, params: Any, acts: Any, digit: int) -> str:
    """``network.png`` in ``args.out``: the preprocessed digit, every neuron, the connections coloured by w·a."""
    import os

    from jaxmlp import network_plot

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "network.png")
    title = f"{os.path.basename(args.image)}: the network answers {digit} (brightness = activation; lines: w·a)"
    network_plot.network_figure(acts, params=params, title=title, path=path)
    return path
