"""The network drawn as 3Blue1Brown draws it: the input image, a column of neurons per layer, and the
connections coloured by their contribution ``w · a``. The same picture as the ``jaxmlp serve`` page, in matplotlib
(``predict --out`` and ``inspect``'s ``activations.png``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from jaxmlp.plots import NEGATIVE, POSITIVE, _figure, _finish
from jaxmlp.validate import IMAGE_SIDE


def network_figure(
    activations: Sequence[Any],
    *,
    params: Any = None,
    label: int | None = None,
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """One digit going through the network, drawn as the ``jaxmlp serve`` page draws it.

    ``activations`` is ``[a^0 (784,), a^1, ..., a^L]`` from ``jaxmlp.model.layer_activations`` for one image:
    the 28 × 28 input, then a column per layer, each neuron's brightness its activation (scaled to the largest
    in its layer when that exceeds 1). With ``params``, the connection from neuron ``j`` of layer ``l - 1`` to
    neuron ``k`` of layer ``l`` (l ≥ 2) is coloured by its contribution ``c = w^l[j, k] · a^{l-1}[j]`` to ``z^l_k``:
    blue ``c > 0``, red ``c < 0``, width and opacity ∝ ``|c| / max |c|`` over that pair of layers.
    """
    from matplotlib.collections import LineCollection

    acts = [np.asarray(a, np.float32).reshape(-1) for a in activations]
    fig = _figure("network")
    image_ax, net_ax = fig.subplots(1, 2, width_ratios=[1, 2.6])
    image_ax.imshow(acts[0].reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    image_ax.set_axis_off()
    image_ax.set_title(f"input: {acts[0].size} pixels" + (f" (label {label})" if label is not None else ""))

    layers = acts[1:]
    tallest = max(len(a) for a in layers)
    xs = np.arange(len(layers), dtype=float)
    ys = [
        tallest - 1 - (np.linspace(0, tallest - 1, len(a)) if len(a) > 1 else np.full(1, (tallest - 1) / 2))
        for a in layers
    ]
    for i in range(len(layers) - 1):  # connections between consecutive layers
        segments = [[(xs[i], y0), (xs[i + 1], y1)] for y0 in ys[i] for y1 in ys[i + 1]]
        if params is None:
            net_ax.add_collection(LineCollection(segments, colors="0.85", linewidths=0.3, zorder=0))
            continue
        c = (np.asarray(params[i + 1]["w"], np.float32) * layers[i][:, None]).reshape(-1)  # w^l[j, k] · a^{l-1}[j]
        size = np.abs(c) / (np.abs(c).max() or 1.0)
        colors = np.where((c >= 0)[:, None], POSITIVE, NEGATIVE)
        rgba = np.column_stack([colors, 0.05 + 0.95 * size])
        order = np.argsort(size)  # the strongest on top
        net_ax.add_collection(
            LineCollection(
                list(np.asarray(segments)[order]), colors=rgba[order], linewidths=0.3 + 3 * size[order], zorder=1
            )
        )
    answer = int(np.argmax(layers[-1]))
    for i, (a, y) in enumerate(zip(layers, ys, strict=True)):
        brightness = np.clip(a / max(1.0, float(np.max(a))), 0, 1)
        last = i == len(layers) - 1
        edges = ["tab:orange" if last and j == answer else "0.3" for j in range(len(a))]
        net_ax.scatter(
            np.full(len(a), xs[i]),
            y,
            s=260,
            c=brightness,
            cmap="gray",
            vmin=0,
            vmax=1,
            edgecolors=edges,
            linewidths=[2.5 if e == "tab:orange" else 0.8 for e in edges],
            zorder=2,
        )
        for j, (value, yj) in enumerate(zip(a, y, strict=True)):
            text = f"{j}: {value:.2f}" if last else f"{value:.2f}"
            style = {"fontweight": "bold", "color": "tab:orange"} if last and j == answer else {"color": "0.2"}
            net_ax.text(xs[i] + 0.09, yj, text, va="center", fontsize=9 if last else 7, **style)
        kind = "output" if last else f"hidden layer {i + 1}"
        net_ax.text(xs[i], tallest - 0.2, f"{kind}\n{len(a)} neurons", ha="center", va="bottom", fontsize=10)
    net_ax.set_xlim(-0.3, xs[-1] + 0.5)
    net_ax.set_ylim(-0.8, tallest + 1.2)
    net_ax.set_axis_off()
    sizes = " → ".join(str(a.size) for a in acts)
    edges_text = "; lines: w·a, blue > 0, red < 0" if params is not None else ""
    fig.suptitle(title or f"{sizes}: the network answers {answer} (brightness = activation{edges_text})", fontsize=13)
    return _finish(fig, path)
