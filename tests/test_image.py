"""jaxmlp.image.read_digit reads a file as an image viewer shows it, whatever its bit depth, mode or orientation.

Every case writes a known digit (a drawn 7) with Pillow in some format and checks that the MNIST pixels that
``predict`` would feed the network match those of the plain 8-bit greyscale PNG of the same picture.
"""

import io

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image, ImageDraw  # noqa: E402

from jaxmlp.errors import InputError  # noqa: E402
from jaxmlp.image import _grey, read_digit  # noqa: E402

SIZE = 96


def _seven(dark_on_light: bool = False) -> np.ndarray:
    """A 7 drawn with thick strokes, ``(96, 96)`` uint8: light ink on black (or dark on white)."""
    canvas = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(canvas)
    draw.line([(22, 20), (72, 20), (40, 80)], fill=255, width=9, joint="curve")
    draw.line([(34, 50), (62, 50)], fill=180, width=5)  # a fainter cross-bar: grey levels matter
    pixels = np.asarray(canvas)
    return 255 - pixels if dark_on_light else pixels


def _write(image: Image.Image, fmt: str = "PNG", **kwargs) -> io.BytesIO:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    buffer.seek(0)
    return buffer


def _reference(pixels: np.ndarray) -> np.ndarray:
    return read_digit(_write(Image.fromarray(pixels, "L"))).astype(int)


def _assert_same(got, want, *, tolerance=1):
    """Pixel for pixel within ``tolerance`` grey levels of 255 (rounding of a float conversion), same ink."""
    got = np.asarray(got).astype(int)
    assert got.shape == (784,) and got.max() == 255
    assert np.abs(got - want).max() <= tolerance, f"differs by up to {np.abs(got - want).max()} levels"


SEVEN = _seven()
LIGHT = _seven(dark_on_light=True)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.fromarray(SEVEN.astype(np.uint16) * 257),  # 16-bit 'I;16' PNG
        lambda: Image.fromarray(LIGHT, "L").convert("RGB"),
        lambda: Image.fromarray(LIGHT, "L").convert("P"),
        lambda: Image.fromarray(SEVEN, "L").convert("LA"),
    ],
    ids=["I;16", "RGB", "P", "LA-opaque"],
)
def test_lossless_png_modes_match_the_8_bit_version(make):
    image = make()
    reopened = Image.open(_write(image))
    assert reopened.mode == image.mode
    want = _reference(SEVEN if image.mode in ("I;16", "LA") else LIGHT)
    _assert_same(read_digit(_write(image)), want)


@pytest.mark.parametrize(
    "make, pixels",
    [
        (lambda: Image.fromarray(SEVEN.astype(np.int32) * 257, "I"), SEVEN),  # 16-bit data in a 32-bit 'I'
        (lambda: Image.fromarray((SEVEN.astype(np.int64) * (2**31 - 1) // 255).astype(np.int32), "I"), SEVEN),
        (lambda: Image.fromarray(SEVEN.astype(np.float32) / 255, "F"), SEVEN),
        (lambda: Image.fromarray(SEVEN.astype(np.float32), "F"), SEVEN),
        (lambda: Image.fromarray(LIGHT, "L").convert("CMYK"), LIGHT),
        (lambda: Image.fromarray(LIGHT, "L").convert("RGB").convert("LAB"), LIGHT),
    ],
    ids=["I-16bit-data", "I-32bit-full-range", "F-0..1", "F-0..255", "CMYK", "LAB"],
)
def test_tiff_modes_match_the_8_bit_version(make, pixels):
    image = make()
    assert Image.open(_write(image, "TIFF")).mode == image.mode
    tolerance = 3 if image.mode == "LAB" else 1  # LAB round-trips through a colour conversion
    _assert_same(read_digit(_write(image, "TIFF")), _reference(pixels), tolerance=tolerance)


def test_one_bit_image_matches_its_8_bit_version():
    binary = np.where(SEVEN > 127, 255, 0).astype(np.uint8)
    image = Image.fromarray(binary, "L").convert("1", dither=Image.Dither.NONE)
    assert Image.open(_write(image)).mode == "1"
    _assert_same(read_digit(_write(image)), _reference(binary))


@pytest.mark.parametrize("mode", ["YCbCr", "HSV", "RGBa", "La", "PA"])
def test_every_colour_mode_pillow_opens_becomes_the_same_grey(mode):
    """Modes no common file format stores: converted in memory and read the way read_digit reads a file."""
    rgb = Image.fromarray(LIGHT, "L").convert("RGB")
    if mode == "La":
        image = Image.frombytes("La", rgb.size, np.stack([LIGHT, np.full_like(LIGHT, 255)], -1).tobytes())
    elif mode == "PA":
        image = Image.fromarray(LIGHT, "L").convert("P").convert("PA")
    else:
        image = rgb.convert(mode)
    assert image.mode == mode
    tolerance = 3 if mode in ("YCbCr", "HSV") else 1
    from jaxmlp.image import preprocess_digit

    _assert_same(preprocess_digit(_grey(image)), _reference(LIGHT), tolerance=tolerance)


@pytest.mark.parametrize("orientation, stored", [(3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90)])
def test_exif_orientation_is_applied_as_a_viewer_does(orientation, stored):
    """The file holds the picture rotated; EXIF says how to turn it upright, as a phone camera writes it."""
    image = Image.fromarray(LIGHT, "L").transpose(stored)
    exif = Image.Exif()
    exif[0x0112] = orientation
    _assert_same(read_digit(_write(image, exif=exif)), _reference(LIGHT))
    without = read_digit(_write(image)).astype(int)
    assert np.abs(without - _reference(LIGHT)).max() > 100  # without EXIF the digit really is turned


def test_a_rotated_jpeg_from_a_phone_reads_upright():
    image = Image.fromarray(LIGHT, "L").convert("RGB").transpose(Image.Transpose.ROTATE_270)
    exif = Image.Exif()
    exif[0x0112] = 8
    got = read_digit(_write(image, "JPEG", quality=95, exif=exif)).astype(float)
    want = _reference(LIGHT).astype(float)
    assert np.corrcoef(got, want)[0, 1] > 0.99 and np.abs(got - want).mean() < 3  # JPEG is lossy


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_strokes_on_a_transparent_canvas(mode):
    """Dark strokes on a transparent canvas (what drawing apps export) read like dark ink on white paper."""
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[..., 3] = SEVEN  # black ink, opaque where the ink is
    image = Image.fromarray(rgba, "RGBA")
    if mode != "RGBA":
        image = image.convert(mode)
    _assert_same(read_digit(_write(image)), _reference(LIGHT), tolerance=2)


def test_decompression_bombs_are_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    for side in (40, 100):  # 1,600 pixels: Pillow warns; 10,000 (over twice the limit): Pillow raises
        with pytest.raises(InputError, match="decompression bomb") as error:
            read_digit(_write(Image.fromarray(SEVEN[:side, :side], "L")))
        assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "image, message",
    [
        (lambda: Image.fromarray(np.full((20, 20), -5, np.int32), "I"), "negative"),
        (lambda: Image.fromarray(np.full((20, 20), 1e6, np.float32), "F"), "expected 0..1 or 0..255"),
        (lambda: Image.fromarray(np.full((20, 20), np.nan, np.float32), "F"), "NaN"),
    ],
    ids=["negative-I", "F-out-of-range", "F-nan"],
)
def test_values_no_viewer_could_show_are_refused(image, message):
    with pytest.raises(InputError, match=message) as error:
        read_digit(_write(image(), "TIFF"))
    assert "\n" not in str(error.value)


def test_a_folder_and_a_truncated_file_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        read_digit(tmp_path)
    data = _write(Image.fromarray(SEVEN, "L")).getvalue()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot read") as error:
        read_digit(tmp_path / "cut.png")
    assert "\n" not in str(error.value)


def test_jaxmlp_predict_answers_the_same_for_every_encoding_of_the_digit(tmp_path, capsys):
    """End to end: the activations ``jaxmlp predict`` prints are the same for the 8-bit, 16-bit and rotated files."""
    import json

    import jax

    import jaxmlp
    from jaxmlp import cli
    from jaxmlp.checkpoint import save_params

    save_params(tmp_path / "params.npz", jaxmlp.init_params(jax.random.key(0)))
    exif = Image.Exif()
    exif[0x0112] = 6
    files = {
        "8bit.png": Image.fromarray(SEVEN, "L"),
        "16bit.png": Image.fromarray(SEVEN.astype(np.uint16) * 257),
        "rotated.png": Image.fromarray(SEVEN, "L").transpose(Image.Transpose.ROTATE_90),
    }
    answers = {}
    for name, image in files.items():
        image.save(tmp_path / name, **({"exif": exif} if name == "rotated.png" else {}))
        assert cli.main(["predict", str(tmp_path / "params.npz"), str(tmp_path / name), "--json"]) == 0
        answers[name] = json.loads(capsys.readouterr().out)["activations"]
    assert answers["16bit.png"] == answers["8bit.png"] == answers["rotated.png"]
