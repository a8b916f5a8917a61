"""jaxmlp inspect PARAMS.npz --out DIR: pictures of what the network learned, as PNGs and an index.html.

index.html opens with the run's summary (preset, test accuracy, epochs, date, from the metrics.json beside
PARAMS.npz when there is one) and a table of contents. The preferred-input pictures (``max_input_*.png``) are
drawn from the second layer on: for a first-layer neuron, gradient ascent on ``log σ(w·x + b) − λ|x|²`` over
the box [0, 1]^784 only re-draws the positive part of its weight image, which ``weights_layer1.png`` already shows.
"""

from __future__ import annotations

import argparse
import html
import json
import os
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "inspect", help="draw a params.npz's weights, activations and mistakes", description=__doc__
    )
    p.add_argument("params", help="a params.npz written by 'jaxmlp train --out'")
    p.add_argument("--out", required=True, help="folder for the PNGs and index.html")
    p.add_argument("--image", type=int, default=0, help="test image to follow through the network (index, default 0)")
    p.add_argument("--seed", type=int, default=0, help="random seed for the noise images")
    p.add_argument("--source", default="auto", choices=("auto", "cache", "tfds", "idx", "mirror"), help="MNIST source")
    p.add_argument("--data-dir", help="folder of IDX files (for --source idx)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import jax

    import jaxmlp
    from jaxmlp import network_plot, neurons, plots
    from jaxmlp.checkpoint import load_network
    from jaxmlp.errors import InputError
    from jaxmlp.model import layer_activations
    from jaxmlp.validate import to_float

    params, config, _ = load_network(args.params)
    kw = {"activation": config.activation, "output": config.output}
    data = jaxmlp.load_mnist(args.source, data_dir=args.data_dir)
    if not 0 <= args.image < len(data.y_test):
        raise InputError(f"--image must be a test image index in 0..{len(data.y_test) - 1}; got {args.image}")
    x_test = to_float(data.x_test)
    out = args.out
    os.makedirs(out, exist_ok=True)
    pages: list[tuple[str, str]] = []

    def draw(name: str, explanation: str, figure: Any) -> None:
        plots.save_figure(figure, os.path.join(out, name))
        pages.append((name, explanation))

    n_layers = len(params)
    draw(
        "weights_layer1.png",
        "Each first hidden neuron's 784 incoming weights as a 28×28 image: blue pixels excite it, red ones inhibit it.",
        plots.weight_grid(neurons.first_layer_images(params), title="first hidden layer: incoming weights"),
    )
    if n_layers > 2:
        draw(
            "weights_layer2.png",
            "Each second hidden neuron's weighted sum of the first layer's weight images "
            "(w1 @ w2): the pixel pattern it sees through the first layer, if that layer were linear.",
            plots.weight_grid(neurons.second_layer_images(params), title="second hidden layer: w1 @ w2"),
        )
    for layer in range(2, n_layers + 1):  # layer 1 adds nothing over its weight images (see the module)
        name = "output" if layer == n_layers else f"layer{layer}"
        kind = "output neuron (digit)" if layer == n_layers else f"neuron of hidden layer {layer}"
        best = neurons.maximize_layer(params, layer, **kw)
        reached = [float(a[j]) for j, a in enumerate(layer_activations(params, best, **kw)[layer])]
        who = [f"digit {j}" if layer == n_layers else f"neuron {j}" for j in range(len(reached))]
        ink = float(best.max())
        draw(
            f"max_input_{name}.png",
            f"Not digits: for each {kind}, the input in [0, 1] that excites it most, found by gradient ascent from "
            "uniform grey with a small penalty on ink; 'a' is the activation it reaches. Each panel in its own "
            "scale (divided by its brightest pixel, 'max'), in a colour map of its own so it is not read as ink. "
            f"The brightest pixel of any panel is {ink:.2f}: faint patterns that look like no digit drive these "
            "neurons as hard as real digits do.",
            plots.image_grid(
                best,
                titles=[f"{w}: a = {a:.2f}" for w, a in zip(who, reached, strict=True)],
                stretch=True,
                cmap=plots.PREFERRED,
                title=f"made-up inputs that most excite each {kind}",
            ),
        )
    x, label = x_test[args.image], int(data.y_test[args.image])
    draw(
        "activations.png",
        f"Test image {args.image} (a {label}) going through the network: each neuron's brightness is its activation; "
        "each line is what a neuron adds to the next one's weighted input, w·a (blue > 0, red < 0, thicker = larger).",
        network_plot.network_figure(layer_activations(params, x, **kw), params=params, label=label),
    )
    noise = neurons.noise_confidence(params, jax.random.key(args.seed), x_test, **kw)
    draw(
        "noise_confidence.png",
        f"The top output on 1,000 images of uniform noise (median {_median(noise.noise):.2f}) "
        f"vs on the {len(noise.digits)} test digits (median {_median(noise.digits):.2f}).",
        plots.noise_histogram(noise),
    )
    matrix = neurons.confusion_matrix(params, x_test, data.y_test, **kw)
    draw(
        "confusion.png",
        "How often each true digit (row) is answered as each digit (column) on the test set.",
        plots.confusion_figure(matrix),
    )
    wrong = neurons.confident_mistakes(params, x_test, data.y_test, k=16, **kw)
    draw(
        "mistakes.png",
        "The 16 test digits the network gets wrong most confidently: true → answer (top output).",
        plots.mistakes_gallery(data.x_test[wrong.position], wrong.label, wrong.predicted, wrong.confidence),
    )
    metrics = _metrics_near(args.params)
    if metrics is not None:
        draw(
            "curves.png",
            "Cost and test accuracy after each training epoch (from metrics.json). The training cost is what the "
            "optimiser minimised, averaged over each epoch's steps (on shifted images, with label smoothing, when "
            "the run used them); the test cost is the plain cost on the test set after the epoch.",
            plots.training_curves(metrics),
        )

    with open(os.path.join(out, "index.html"), "w") as f:
        f.write(_index_html(args.params, data.name, pages, metrics, matrix.trace() / matrix.sum()))
    accuracy = matrix.trace() / matrix.sum()
    print(f"wrote {len(pages)} pictures and index.html to {out}")
    print(
        f"test accuracy {accuracy:.2%}; top output on uniform noise: median {_median(noise.noise):.3f}, "
        f"on test digits: median {_median(noise.digits):.3f}"
    )
    return 0


def _median(values: Any) -> float:
    import numpy as np

    return float(np.median(values))


def _metrics_near(params_path: str) -> dict[str, Any] | None:
    """The ``metrics.json`` beside ``params_path`` (with ``written``: its time, UTC) if it holds a history."""
    import datetime

    path = os.path.join(os.path.dirname(os.path.abspath(params_path)), "metrics.json")
    try:
        with open(path) as f:
            metrics = json.load(f)
        history = metrics.get("history")
        written = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    except (OSError, ValueError, AttributeError):
        return None
    if not (isinstance(history, dict) and history.get("test_accuracy")):
        return None
    return {**metrics, "written": written.strftime("%Y-%m-%d %H:%M UTC")}


def _summary(params_path: str, metrics: dict[str, Any] | None, accuracy: float) -> str:
    """One paragraph: the network, how it was trained, how well it does, when (``metrics.json`` when present)."""
    if metrics is None:
        return f"{params_path}: test accuracy {accuracy:.2%} (no metrics.json beside it, so no training record)."
    config = metrics.get("config") or {}
    sizes = "-".join(map(str, config.get("sizes", []))) or "?"
    parts = [
        f"preset <b>{html.escape(str(metrics.get('preset') or 'custom'))}</b>",
        f"{sizes}, {config.get('activation', '?')} hidden, {config.get('output', '?')} output, "
        f"{config.get('cost', '?')} cost",
        f"<b>{accuracy:.2%}</b> test accuracy after {metrics.get('epochs', '?')} epochs",
        f"trained {metrics['written']}",
    ]
    return html.escape(params_path) + ": " + "; ".join(html.escape(p) if "<b>" not in p else p for p in parts) + "."


def _index_html(
    params_path: str, data_name: str, pages: list[tuple[str, str]], metrics: dict[str, Any] | None, accuracy: float
) -> str:
    anchors = [(name.removesuffix(".png"), name, text) for name, text in pages]
    toc = "\n".join(f'<li><a href="#{html.escape(a)}">{html.escape(name)}</a></li>' for a, name, _ in anchors)
    items = "\n".join(
        f'<figure id="{html.escape(a)}"><img src="{html.escape(name)}" alt="{html.escape(name)}">'
        f"<figcaption>{html.escape(text)}</figcaption></figure>"
        for a, name, text in anchors
    )
    title = f"jaxmlp inspect: {html.escape(params_path)}"
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:1240px;margin:auto}}img{{max-width:100%;border:1px solid #ddd}}
figure{{margin:2em 0}}figcaption{{font-size:1.1em;margin-top:.4em}}.summary{{font-size:1.15em}}</style></head>
<body>
<h1>{title}</h1>
<p class="summary">{_summary(params_path, metrics, accuracy)}</p>
<p>Pictures of the network's parameters and of its answers on the {html.escape(data_name)} test set:</p>
<ol>
{toc}
</ol>
{items}
</body>
</html>
"""
