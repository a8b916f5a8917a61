"""Reading your own digit: jaxmlp.image and ``jaxmlp predict``."""

import json

import jax
import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

import jaxmlp  # noqa: E402
from jaxmlp import cli  # noqa: E402
from jaxmlp.checkpoint import save_params  # noqa: E402
from jaxmlp.image import preprocess_digit, read_digit  # noqa: E402


@pytest.fixture(scope="module")
def trained(mnist, tmp_path_factory):
    """``(params, kwargs, path)``: the ``best`` preset trained for 3 epochs, saved as params.npz."""
    config = jaxmlp.PRESETS["best"]
    params, _ = jaxmlp.fit(mnist, config, epochs=3)
    path = tmp_path_factory.mktemp("predict") / "params.npz"
    save_params(path, params, {"config": {"activation": config.activation, "output": config.output}})
    return params, {"activation": config.activation, "output": config.output}, path


def _save_png(path, pixels28, *, invert=False, size=100):
    """A 28×28 uint8 MNIST digit as a ``size``×``size`` PNG, dark ink on white when ``invert``."""
    image = 255 - pixels28 if invert else pixels28
    Image.fromarray(image.reshape(28, 28)).resize((size, size), Image.Resampling.BILINEAR).save(path)
    return path


def _one_per_digit(mnist, params, kw):
    """Index of the first confidently and correctly classified test image of each digit."""
    out = np.asarray(jaxmlp.forward(params, mnist.x_test[:500] / 255.0, **kw))
    good = (out.argmax(1) == mnist.y_test[:500]) & (out.max(1) > 0.8)
    return [int(np.flatnonzero(good & (mnist.y_test[:500] == d))[0]) for d in range(10)]


def test_preprocessing_reproduces_mnist_from_a_large_png(mnist, tmp_path):
    correlations = []
    for i in range(50):
        for invert in (False, True):
            pixels = read_digit(_save_png(tmp_path / "d.png", mnist.x_test[i], invert=invert))
            assert pixels.shape == (784,) and pixels.dtype == np.uint8 and pixels.max() == 255
            correlations.append(np.corrcoef(pixels.astype(float), mnist.x_test[i].astype(float))[0, 1])
    assert np.median(correlations) > 0.95 and min(correlations) > 0.5


def test_preprocessing_centres_the_mass_and_fits_20_pixels():
    canvas = np.zeros((300, 200), np.uint8)
    canvas[20:220, 150:190] = 255  # a tall bar far off-centre
    image = preprocess_digit(canvas).reshape(28, 28).astype(float)
    rows, cols = np.nonzero(image > 0)
    assert rows.max() - rows.min() + 1 == 20 and cols.max() - cols.min() + 1 <= 6
    r = np.arange(28)
    com = ((image.sum(1) @ r) / image.sum(), (image.sum(0) @ r) / image.sum())
    assert abs(com[0] - 14) <= 0.5 and abs(com[1] - 14) <= 0.5


@pytest.mark.slow
@pytest.mark.parametrize("invert", [False, True], ids=["light-on-dark", "dark-on-light"])
def test_a_test_digit_saved_as_png_is_read_as_its_label(trained, mnist, tmp_path, invert):
    params, kw, _ = trained
    for i in _one_per_digit(mnist, params, kw):
        x = read_digit(_save_png(tmp_path / f"{i}.png", mnist.x_test[i], invert=invert)) / 255.0
        assert int(jaxmlp.predict(params, x, **kw)) == mnist.y_test[i], f"test image {i}"


@pytest.mark.slow
def test_a_digit_on_a_transparent_canvas(trained, mnist, tmp_path):
    params, kw, _ = trained
    i = _one_per_digit(mnist, params, kw)[4]
    ink = np.asarray(Image.fromarray(mnist.x_test[i].reshape(28, 28)).resize((64, 64), Image.Resampling.BILINEAR))
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 3] = ink  # black strokes, opaque where the ink is
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    assert int(jaxmlp.predict(params, read_digit(tmp_path / "t.png") / 255.0, **kw)) == 4


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: Image.new("L", (50, 50), 255).save(p), "blank"),
        (lambda p: Image.new("RGB", (1, 1), (0, 0, 0)).save(p), "blank"),
        (lambda p: p.write_bytes(b"not a picture at all"), "cannot read"),
        (lambda p: None, "no image file"),
    ],
    ids=["white", "one-black-pixel", "not-an-image", "missing"],
)
def test_unreadable_or_blank_images_raise_a_one_line_value_error(tmp_path, make, message):
    path = tmp_path / "digit.png"
    make(path)
    with pytest.raises(ValueError, match=message) as error:
        read_digit(path)
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_cli_predict_prints_the_digit_and_ten_activations(trained, mnist, tmp_path, capsys):
    params, kw, params_path = trained
    i = _one_per_digit(mnist, params, kw)[7]
    png = _save_png(tmp_path / "seven.png", mnist.x_test[i], invert=True)
    assert cli.main(["predict", str(params_path), str(png), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["digit"] == 7 and len(result["activations"]) == 10
    assert int(np.argmax(result["activations"])) == 7 and sum(result["activations"]) == pytest.approx(1, abs=1e-4)
    assert cli.main(["predict", str(params_path), str(png)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == "digit: 7" and len(text) == 11


def test_cli_predict_on_a_blank_image_exits_2_with_one_line(tmp_path, capsys):
    params_path = tmp_path / "params.npz"
    save_params(params_path, jaxmlp.init_params(jax.random.key(0)))
    Image.new("L", (40, 40), 0).save(tmp_path / "blank.png")
    assert cli.main(["predict", str(params_path), str(tmp_path / "blank.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "blank" in err[0]


def test_cli_predict_out_draws_the_digit_through_the_network(tmp_path, capsys):
    """``predict --out DIR`` writes network.png: the sample digit, every neuron, connections coloured by w·a."""
    import os

    from jaxmlp import plots

    params_path = tmp_path / "params.npz"
    save_params(params_path, jaxmlp.init_params(jax.random.key(0)))
    sample = os.path.join(os.path.dirname(__file__), "..", "examples", "digits", "seven.png")
    assert cli.main(["predict", str(params_path), sample, "--out", str(tmp_path / "out"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["picture"] == str(tmp_path / "out" / "network.png")
    with Image.open(result["picture"]) as image:
        assert image.size == plots.SIZES["network"]
    (tmp_path / "file").write_text("")
    assert cli.main(["predict", str(params_path), sample, "--out", str(tmp_path / "file")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("name, digit", [("seven", 7), ("two", 2), ("four", 4)])
def test_sample_digits_are_the_mnist_test_images_they_claim(mnist, name, digit):
    import os

    index = {"seven": 0, "two": 35, "four": 4}[name]
    assert mnist.y_test[index] == digit
    pixels = read_digit(os.path.join(os.path.dirname(__file__), "..", "examples", "digits", f"{name}.png"))
    assert np.corrcoef(pixels.astype(float), mnist.x_test[index].astype(float))[0, 1] > 0.9
