"""jaxmlp.plots: every picture renders headless to a PNG of its documented pixel size."""

import json
import subprocess
import sys

import jax
import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image

import jaxmlp
from jaxmlp import network_plot, plots
from jaxmlp import neurons as ji

KW = {"activation": jaxmlp.PRESETS["seed"].activation, "output": jaxmlp.PRESETS["seed"].output}


@pytest.fixture(scope="module")
def params():
    return jaxmlp.init_params(jax.random.key(0))


def _fake_history(epochs=5):
    return jaxmlp.History(
        train_cost=list(np.linspace(0.5, 0.1, epochs)),
        test_cost=list(np.linspace(0.4, 0.12, epochs)),
        test_accuracy=list(np.linspace(0.8, 0.95, epochs)),
        epoch_seconds=[1.0] * epochs,
    )


def _check_png(path, size):
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == size
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10  # something was drawn, not a blank canvas


def test_weight_grid_is_diverging_and_centred_at_zero(params, tmp_path):
    images = np.asarray(ji.first_layer_images(params))
    fig = plots.weight_grid(images, path=tmp_path / "w.png")
    _check_png(tmp_path / "w.png", plots.SIZES["grid"])
    shown = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(shown) == 16
    low, high = shown[0].get_clim()
    assert low == -high == -np.abs(images).max()
    cmap = shown[0].get_cmap()
    red, blue = cmap(0.0), cmap(1.0)  # most negative, most positive
    assert red[0] > red[2] and blue[2] > blue[0]
    np.testing.assert_array_equal(shown[4].get_array(), images[4])


def test_image_grid_sizes_follow_the_number_of_images(params, tmp_path):
    images = np.asarray(ji.maximize_layer(params, 3, steps=5, **KW))
    fig = plots.image_grid(
        images, titles=[f"digit {j}" for j in range(10)], stretch=True, cmap=plots.PREFERRED, path=tmp_path / "m.png"
    )
    assert plots.grid_size(10) == (900, 510)  # two rows of five
    _check_png(tmp_path / "m.png", plots.grid_size(10))
    shown = [ax.images[0] for ax in fig.axes if ax.images]
    assert shown[0].get_cmap().name == plots.PREFERRED  # made-up inputs are not drawn like digits
    peak = images[0].max()
    assert fig.axes[0].get_title() == f"digit 0\n(max {peak:.2f})"  # each panel in its own scale, said in its title


def test_network_figure(params, tmp_path):
    x = jax.random.uniform(jax.random.key(1), (784,))
    fig = network_plot.network_figure(ji.layer_activations(params, x, **KW), label=3, path=tmp_path / "a.png")
    _check_png(tmp_path / "a.png", plots.SIZES["network"])
    answer = int(jaxmlp.predict(params, x, **KW))
    assert f"answers {answer}" in fig._suptitle.get_text()


def test_network_figure_colours_each_connection_by_its_contribution(params, tmp_path):
    """The line j → k into layer l is blue when w^l[j, k] · a^{l-1}[j] > 0, red when < 0, widest at the largest."""
    from matplotlib.collections import LineCollection

    acts = ji.layer_activations(params, jax.random.uniform(jax.random.key(2), (784,)), **KW)
    fig = network_plot.network_figure(acts, params=params, path=tmp_path / "a.png")
    _check_png(tmp_path / "a.png", plots.SIZES["network"])
    lines = [c for c in fig.axes[1].collections if isinstance(c, LineCollection)]
    assert [len(c.get_segments()) for c in lines] == [16 * 16, 16 * 10]
    for layer, collection in zip((2, 3), lines, strict=True):
        c = (np.asarray(params[layer - 1]["w"]) * np.asarray(acts[layer - 1])[:, None]).reshape(-1)
        order = np.argsort(np.abs(c) / np.abs(c).max())
        colours = collection.get_colors()
        blue = colours[:, 2] > colours[:, 0]
        np.testing.assert_array_equal(blue, c[order] >= 0)
        widths = collection.get_linewidths()
        assert widths[-1] == pytest.approx(3.3) and np.all(np.diff(widths) >= 0)
    assert "w·a" in fig._suptitle.get_text()


def test_noise_histogram(params, tmp_path):
    result = ji.noise_confidence(params, jax.random.key(3), jax.random.uniform(jax.random.key(4), (200, 784)), **KW)
    plots.noise_histogram(result, path=tmp_path / "n.png")
    _check_png(tmp_path / "n.png", plots.SIZES["noise"])


def test_confusion_figure(tmp_path):
    matrix = np.eye(10, dtype=int) * 980 + np.random.default_rng(0).integers(0, 3, (10, 10))
    fig = plots.confusion_figure(matrix, path=tmp_path / "c.png")
    _check_png(tmp_path / "c.png", plots.SIZES["confusion"])
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert str(matrix[0, 0]) in texts


def test_mistakes_gallery(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (16, 784), dtype=np.uint8)
    fig = plots.mistakes_gallery(
        images, np.arange(16) % 10, (np.arange(16) + 1) % 10, np.linspace(1, 0.5, 16), path=tmp_path / "g.png"
    )
    _check_png(tmp_path / "g.png", plots.SIZES["mistakes"])
    assert "0 → 1 (1.00)" in [ax.get_title() for ax in fig.axes]


@pytest.mark.parametrize("form", ["history", "dict", "metrics"])
def test_training_curves_from_a_history_or_its_dict(tmp_path, form):
    history = _fake_history()
    given = {"history": history, "dict": history.to_dict(), "metrics": {"history": history.to_dict()}}[form]
    fig = plots.training_curves(given, path=tmp_path / "t.png")
    _check_png(tmp_path / "t.png", plots.SIZES["curves"])
    cost_ax, acc_ax = fig.axes
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), 100 * np.asarray(history.test_accuracy))
    assert len(cost_ax.lines) == 2


def test_training_curves_say_what_the_training_cost_includes(tmp_path):
    config = {"shift": 2, "label_smoothing": 0.1, "cost": "cross-entropy"}
    metrics = {"history": _fake_history().to_dict(), "config": config}
    train, test = [line.get_label() for line in plots.training_curves(metrics).axes[0].lines]
    assert "mean over the epoch's steps" in train and "shifted ±2 px" in train and "label smoothing 0.1" in train
    assert "unshifted test set" in test
    plain = plots.training_curves(_fake_history(), config=jaxmlp.TrainConfig()).axes[0].lines[0].get_label()
    assert "shifted" not in plain and "smoothing" not in plain


def test_save_training_plots_writes_curves_and_weights(params, tmp_path):
    paths = plots.save_training_plots(tmp_path, params, _fake_history())
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["curves.png", "weights_layer1.png"]
    _check_png(paths[0], plots.SIZES["curves"])
    _check_png(paths[1], plots.SIZES["grid"])


def test_plots_need_no_display_and_jaxmlp_does_not_import_matplotlib(tmp_path):
    code = (
        "import sys, jaxmlp; assert 'matplotlib' not in sys.modules, 'import jaxmlp pulled in matplotlib'; "
        "from jaxmlp import plots; plots.confusion_figure([[1, 2], [3, 4]], path=sys.argv[1]); "
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'"
    )
    env = {"PATH": "/usr/bin:/bin", "MPLBACKEND": "", "HOME": str(tmp_path)}  # no DISPLAY
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.png")], check=True, env=env, timeout=120)
    assert (tmp_path / "x.png").stat().st_size > 1000


@pytest.mark.slow
def test_train_plots_writes_pictures_next_to_params(tmp_path, mnist, capsys):
    from jaxmlp import cli

    out = tmp_path / "run"
    assert cli.main(["train", "--preset", "best", "--epochs", "1", "--plots", "--out", str(out)]) == 0
    assert {"params.npz", "metrics.json", "curves.png", "weights_layer1.png"} <= {p.name for p in out.iterdir()}
    _check_png(out / "curves.png", plots.SIZES["curves"])
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 1
    assert "curves.png" in capsys.readouterr().out
