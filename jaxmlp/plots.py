"""Pictures of a network (needs the ``plot`` extra: matplotlib).

Every function builds a ``matplotlib.figure.Figure`` directly (no pyplot, so no global state and no
display is needed), returns it, and, given ``path``, also saves it as a PNG of exactly ``SIZES[kind]``
pixels (width, height). ``import jaxmlp`` never imports this module; the arrays come from ``jaxmlp.neurons``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

DPI = 100
#: Pixel size (width, height) of each saved picture.
SIZES: dict[str, tuple[int, int]] = {
    "grid": (900, 960),  # for 16 images (4 rows); see grid_size for other counts
    "network": (1200, 760),
    "noise": (1200, 500),
    "confusion": (760, 700),
    "mistakes": (1200, 440),
    "curves": (1100, 450),
}
DIVERGING = "RdBu"  # negative weights red, positive blue, zero white
POSITIVE, NEGATIVE = (33 / 255, 102 / 255, 172 / 255), (178 / 255, 24 / 255, 43 / 255)  # RdBu's ends, as on the page
PREFERRED = "magma"  # inputs found by gradient ascent: not digits, so not in the digits' grey


def grid_size(n: int) -> tuple[int, int]:
    """Pixel size of a ``weight_grid``/``image_grid`` of ``n`` images: 900 wide, 60 + 225 per row high."""
    rows, _ = _grid_shape(n)
    return SIZES["grid"][0], 60 + 225 * rows


def _figure(kind: str, size: tuple[int, int] | None = None) -> Figure:
    width, height = size or SIZES[kind]
    return Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained", facecolor="white")


def save_figure(fig: Figure, path: str | os.PathLike) -> str:
    """Write ``fig`` as a PNG at ``DPI`` (so its pixel size is ``figsize * DPI``); returns the path."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png", facecolor="white")
    return path


def _finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    if path is not None:
        save_figure(fig, path)
    return fig


def _grid_shape(n: int, ncols: int | None = None) -> tuple[int, int]:
    if ncols is None:
        ncols = math.ceil(math.sqrt(n))
        if n % ncols and n % (ncols + 1) == 0:  # 10 images: 2 × 5 rather than 3 × 4 with gaps
            ncols += 1
    return math.ceil(n / ncols), ncols


def weight_grid(
    images: Any,
    *,
    title: str = "first-layer weights",
    titles: Sequence[str] | None = None,
    label: str = "weight",
    path: str | os.PathLike | None = None,
) -> Figure:
    """``(n, 28, 28)`` signed images (weights) in a grid, diverging colours centred at 0: blue > 0 > red.

    All panels share one symmetric scale ``[-m, m]`` with ``m = max |image|``, shown by the colourbar (``label``).
    """
    images = np.asarray(images, np.float32)
    limit = float(np.max(np.abs(images))) or 1.0
    return _grid(images, title, titles, path, cmap=DIVERGING, vmin=-limit, vmax=limit, label=label)


def image_grid(
    images: Any,
    *,
    title: str = "",
    titles: Sequence[str] | None = None,
    stretch: bool = False,
    cmap: str = "gray",
    path: str | os.PathLike | None = None,
) -> Figure:
    """``(n, 784)`` or ``(n, 28, 28)`` pixel images in [0, 1] in a grid, ink white on black as in MNIST.

    ``stretch=True`` divides each image by its brightest pixel (shown in its title) so faint patterns show,
    each in its own scale. ``cmap``: ``"gray"`` for digits, ``PREFERRED`` for made-up inputs (``max_input_*``).
    """
    images = np.asarray(images, np.float32).reshape(-1, 28, 28)
    titles = list(titles) if titles is not None else [f"neuron {i}" for i in range(len(images))]
    label = "pixel intensity"
    if stretch:
        peaks = images.reshape(len(images), -1).max(axis=1)
        images = images / np.where(peaks > 0, peaks, 1.0)[:, None, None]
        titles = [f"{t}\n(max {p:.2f})" for t, p in zip(titles, peaks, strict=True)]
        label = "pixel intensity / the image's max"
    return _grid(images, title, titles, path, cmap=cmap, vmin=0.0, vmax=1.0, label=label)


def _grid(images, title, titles, path, *, cmap, vmin, vmax, label) -> Figure:
    fig = _figure("grid", grid_size(len(images)))
    rows, cols = _grid_shape(len(images))
    axes = fig.subplots(rows, cols, squeeze=False)
    shown = None
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < len(images):
            shown = ax.imshow(images[i], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_title(titles[i] if titles is not None else f"neuron {i}", fontsize=10)
    if shown is not None:
        fig.colorbar(shown, ax=axes, shrink=0.6, label=label)
    fig.suptitle(title, fontsize=14)
    return _finish(fig, path)


def noise_histogram(result: Any, *, path: str | os.PathLike | None = None) -> Figure:
    """Top output activation on uniform-noise images vs real test digits, plus which digit noise is called.

    ``result`` is a ``jaxmlp.neurons.NoiseConfidence`` (fields ``noise``, ``noise_digit``, ``digits``).
    """
    noise, digits = np.asarray(result.noise), np.asarray(result.digits)
    named = np.asarray(result.noise_digit)
    fig = _figure("noise")
    hist_ax, bar_ax = fig.subplots(1, 2, width_ratios=[2, 1])
    lo, hi = min(noise.min(), digits.min(), 0.0), max(noise.max(), digits.max(), 1.0)
    bins = np.linspace(lo, hi, 41)
    for values, name, color in ((digits, "test digits", "tab:blue"), (noise, "uniform noise", "tab:red")):
        weights = np.full(values.shape, 100.0 / max(len(values), 1))
        hist_ax.hist(
            values,
            bins=bins,
            weights=weights,
            alpha=0.6,
            color=color,
            label=f"{name} ({len(values)}): median {np.median(values):.2f}",
        )
    hist_ax.set_xlabel("top output activation (the network's confidence)")
    hist_ax.set_ylabel("% of images")
    hist_ax.legend(loc="upper center")
    hist_ax.set_title("how sure is the network?")
    counts = np.bincount(named, minlength=10)
    bar_ax.bar(np.arange(len(counts)), counts, color="tab:red", alpha=0.7)
    bar_ax.set_xticks(np.arange(len(counts)))
    bar_ax.set_xlabel("digit named")
    bar_ax.set_ylabel("noise images")
    bar_ax.set_title("what it calls the noise")
    return _finish(fig, path)


def confusion_figure(matrix: Any, *, path: str | os.PathLike | None = None) -> Figure:
    """The ``(10, 10)`` confusion matrix (rows: true digit, columns: predicted), counts written in each cell.

    Colours are on a log scale so that the few mistakes show next to the ~1,000 correct ones per digit.
    """
    matrix = np.asarray(matrix)
    k = matrix.shape[0]
    fig = _figure("confusion")
    ax = fig.subplots()
    shown = ax.imshow(np.ma.masked_equal(matrix, 0), cmap="Blues", norm=LogNorm(vmin=1, vmax=max(matrix.max(), 2)))
    for i in range(k):
        for j in range(k):
            if matrix[i, j]:
                dark = matrix[i, j] > np.sqrt(matrix.max())
                ax.text(
                    j,
                    i,
                    str(matrix[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                    fontweight="bold" if i == j else "normal",
                )
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"confusion matrix: {matrix.sum()} test images, {accuracy:.2%} on the diagonal")
    fig.colorbar(shown, ax=ax, shrink=0.8, label="images (log scale)")
    return _finish(fig, path)


def mistakes_gallery(
    images: Any,
    label: Any,
    predicted: Any,
    confidence: Any,
    *,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Misclassified digits (``(m, 784)`` in [0, 1] or uint8), each titled "true → predicted (confidence)"."""
    images = np.asarray(images, np.float32).reshape(-1, 28, 28)
    if images.size and images.max() > 1:
        images = images / 255.0
    fig = _figure("mistakes")
    n = max(len(images), 1)
    cols = min(n, 8)
    axes = fig.subplots(math.ceil(n / cols), cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < len(images):
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"{label[i]} → {predicted[i]} ({confidence[i]:.2f})", fontsize=11, color="tab:red")
    fig.suptitle("most confident mistakes: true digit → network's answer (its top output)", fontsize=14)
    return _finish(fig, path)


def training_curves(history: Any, *, config: Any = None, path: str | os.PathLike | None = None) -> Figure:
    """Cost and test accuracy per epoch from a ``History``, its dict or a metrics.json object.

    Uses the lists ``train_cost`` (optional), ``test_cost`` and ``test_accuracy``, one value per epoch. The
    training cost is the cost as minimised, averaged over the epoch's steps while the weights changed, on shifted
    images and with label smoothing when the run's ``config`` (a ``TrainConfig``, its dict, or metrics.json's
    ``config``) had them; the test cost is the plain cost on the unshifted test set after the epoch. The legend
    says which applied, so the two curves are not read as the same quantity.
    """
    h = history if isinstance(history, dict) else history.to_dict() if hasattr(history, "to_dict") else vars(history)
    if config is None and isinstance(h.get("config"), dict):
        config = h["config"]
    if "history" in h:  # a metrics.json object
        h = h["history"]
    conf = config if isinstance(config, dict) or config is None else vars(config)
    conf = conf or {}
    extras = []
    if conf.get("shift"):
        extras.append(f"images shifted ±{conf['shift']} px")
    if conf.get("label_smoothing"):
        extras.append(f"label smoothing {conf['label_smoothing']:g}")
    cost = f" ({conf['cost']})" if conf.get("cost") else ""
    fig = _figure("curves")
    cost_ax, acc_ax = fig.subplots(1, 2)
    epochs = np.arange(1, len(h["test_accuracy"]) + 1)
    if h.get("train_cost"):
        how = ", ".join(["mean over the epoch's steps", *extras])
        cost_ax.plot(epochs, h["train_cost"], "o-", ms=3, label=f"training cost as minimised ({how})")
    cost_ax.plot(epochs, h["test_cost"], "o-", ms=3, label="test cost (unshifted test set, after the epoch)")
    cost_ax.set_xlabel("epoch")
    cost_ax.set_ylabel(f"cost{cost}")
    cost_ax.set_title("cost")
    cost_ax.legend(fontsize=8, loc="upper right")
    accuracy = 100 * np.asarray(h["test_accuracy"], np.float64)
    acc_ax.plot(epochs, accuracy, "o-", ms=3, color="tab:green")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("test accuracy (%)")
    acc_ax.set_title(f"test accuracy: {accuracy[-1]:.2f}% after {len(epochs)} epochs" if len(epochs) else "")
    for ax in (cost_ax, acc_ax):
        ax.grid(alpha=0.3)
    return _finish(fig, path)


def save_training_plots(out_dir: str | os.PathLike, params: Any, history: Any, config: Any = None) -> list[str]:
    """``curves.png`` (when there is a ``history``; its legend says what ``config``'s training cost includes) and
    ``weights_layer1.png`` in ``out_dir`` (what ``train --plots`` writes)."""
    from jaxmlp.neurons import first_layer_images

    written = []
    if history is not None:
        written.append(os.path.join(out_dir, "curves.png"))
        training_curves(history, config=config, path=written[-1])
    written.append(os.path.join(out_dir, "weights_layer1.png"))
    weight_grid(first_layer_images(params), title="first hidden layer: each neuron's 784 weights", path=written[-1])
    return written
