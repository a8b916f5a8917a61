"""Your own digit as an MNIST image: read a picture and prepare it the way MNIST's digits were (needs Pillow).

MNIST's recipe (LeCun et al.): the digit's ink is cropped to its bounding box, scaled to fit in 20 × 20
with its aspect ratio kept (anti-aliased, hence the grey levels), then placed in a 28 × 28 field so that its
centre of mass is at the centre. Ink is bright (255) on a black (0) background.

``read_digit`` reads a file the way an image viewer shows it: EXIF orientation applied, transparency composited
onto paper, every bit depth scaled to its own full range, every colour mode Pillow opens turned into grey
(ITU-R 601 luma, what ``Image.convert("L")`` uses); anything else is refused in one line (``InputError``).
``preprocess_digit`` is the one MNIST-style preparation, shared by ``jaxmlp predict`` and ``jaxmlp serve``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, BinaryIO

import numpy as np

from jaxmlp.errors import InputError

BOX = 20  # the digit fits in BOX × BOX pixels ...
SIDE = 28  # ... centred by mass in SIDE × SIDE
MIN_CONTRAST = 0.1  # ink must differ from the background by at least this much (of full scale)
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601 grey from R, G, B (Pillow's convert("L"))
#: Full scale of the integer modes: 1-bit, 8-bit, 16-bit (any byte order); 'I' (int32) is handled in _grey.
_FULL_SCALE = {"1": 1.0, "L": 255.0, "I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0}


def read_digit(path: str | os.PathLike | BinaryIO) -> np.ndarray:
    """The image at ``path`` or in a binary file object (any size, PNG/JPEG/TIFF/...; dark ink on light or light
    on dark) as MNIST ``(784,)`` uint8, prepared by ``preprocess_digit``.

    Raises ``InputError`` with a one-line message for a missing, unreadable, too large (decompression bomb),
    unsupported or blank image. Multi-frame files (GIF, TIFF) are read at their first frame.
    """
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        raise ImportError("reading images needs Pillow: pip install 'jaxmlp[plot]'") from None
    if isinstance(path, str | os.PathLike):
        name = source = os.fspath(path)
    else:
        name, source = getattr(path, "name", "the image"), path
    bomb = (Image.DecompressionBombError, Image.DecompressionBombWarning)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # a warning here is a refusal too
            with Image.open(source) as opened:
                opened.load()
                image = ImageOps.exif_transpose(opened)  # as a viewer shows it: the EXIF orientation applied
                grey = _grey(image)
    except FileNotFoundError:
        raise InputError(f"no image file at {name}") from None
    except IsADirectoryError:
        raise InputError(f"{name} is a folder; expected an image file") from None
    except bomb:
        limit = Image.MAX_IMAGE_PIXELS
        raise InputError(
            f"{name} is too large to open safely (over {limit:,} pixels, a possible decompression bomb); "
            "scale it down to at most a few thousand pixels a side"
        ) from None
    except InputError as error:
        raise InputError(f"{name}: {error}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, MemoryError) as error:
        kind = type(error).__name__
        raise InputError(f"cannot read {name} as an image ({kind}); expected a PNG, JPEG, ...") from None
    try:
        return preprocess_digit(grey)
    except InputError as error:
        raise InputError(f"{name}: {error}") from None


def _grey(image: Any) -> np.ndarray:
    """The image's grey levels in [0, 1], ``(height, width)`` float32, as a viewer would show them.

    1/8/16-bit integers are divided by their full scale; 32-bit integers ('I') by 65,535 when they fit (how
    Pillow stores 16-bit data) else by 2³¹ − 1; floats ('F') are taken as 0..1 when they fit, else as 0..255.
    Colour (RGB, CMYK, YCbCr, HSV, LAB, palette) becomes ITU-R 601 luma. Transparent pixels are composited
    onto paper: white behind dark strokes, black behind light ones (a transparent canvas has no colour).
    """
    mode = image.mode
    if mode in _FULL_SCALE:
        return np.asarray(image, np.float32) / np.float32(_FULL_SCALE[mode])
    if mode == "I":
        values = np.asarray(image, np.int64)
        if values.min() < 0:
            raise InputError(f"32-bit image has negative pixel values (down to {values.min()}); expected >= 0")
        return (values / (65535.0 if values.max() <= 65535 else 2.0**31 - 1)).astype(np.float32)
    if mode == "F":
        values = np.asarray(image, np.float32)
        if not np.all(np.isfinite(values)):
            raise InputError("floating-point image has NaN or infinite pixels; expected finite values")
        low, high = float(values.min()), float(values.max())
        if low < 0 or high > 255:
            raise InputError(f"floating-point image has pixels in [{low:g}, {high:g}]; expected 0..1 or 0..255")
        return values if high <= 1 else values / np.float32(255)
    if mode == "La":  # premultiplied grey + alpha: Pillow cannot convert it, so undo the premultiplication here
        la = np.asarray(image, np.float32) / 255.0
        alpha = la[..., 1]
        return _composite(np.where(alpha > 0, la[..., 0] / np.maximum(alpha, 1e-6), 0.0).clip(0, 1), alpha)
    try:
        rgba = np.asarray(image.convert("RGBA"), np.float32) / 255.0  # palette, LA, PA, RGBa, CMYK, YCbCr, HSV, ...
    except (ValueError, OSError):
        raise InputError(f"cannot convert colour mode {mode!r} to grey; save the image as an 8-bit PNG") from None
    return _composite(rgba[..., :3] @ LUMA, rgba[..., 3])


def _composite(grey: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``grey`` over paper with opacity ``alpha`` (both ``(h, w)`` in [0, 1]); opaque images pass unchanged."""
    if alpha.min() >= 1.0:
        return grey.astype(np.float32)
    strokes = grey[alpha > 0.5]
    paper = 1.0 if strokes.size and np.median(strokes) < 0.5 else 0.0
    return (alpha * grey + (1.0 - alpha) * paper).astype(np.float32)


def preprocess_digit(image: Any, *, ink_is_bright: bool | None = None) -> np.ndarray:
    """A 2-D grey image ``(h, w)`` (uint8 0..255 or float 0..1) of a digit → MNIST ``(784,)`` uint8, ink 255 on 0.

    Polarity (unless ``ink_is_bright`` is given): the median of the outer border is the background; a light
    border means dark ink, which is inverted. The background level is subtracted, the ink cropped to its
    bounding box, resized to fit 20 × 20 (aspect kept, Lanczos anti-aliasing), scaled to a peak of 255 and
    shifted so its centre of mass lands on the centre of the 28 × 28 field. A blank image is an ``InputError``.
    """
    from PIL import Image

    gray = np.asarray(image)
    if gray.ndim != 2 or gray.size == 0:
        raise InputError(f"expected a 2-D grey image; got shape {gray.shape}")
    gray = gray.astype(np.float32) / 255.0 if gray.dtype == np.uint8 else gray.astype(np.float32)
    if not np.all(np.isfinite(gray)):
        raise InputError("image has non-finite pixels")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if ink_is_bright is None:
        ink_is_bright = bool(np.median(border) < 0.5)
    ink, border = (gray, border) if ink_is_bright else (1.0 - gray, 1.0 - border)
    background = float(np.median(border))
    ink = np.clip(ink - background, 0.0, None)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise InputError("image is blank: no digit stands out from the background")
    ink /= peak
    rows, cols = np.nonzero(ink > 0.2)  # the ink's bounding box, ignoring faint paper texture
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]

    height, width = ink.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(ink, mode="F").resize(size, Image.Resampling.LANCZOS), np.float32)
    small = np.clip(small, 0.0, None)
    small /= small.max() or 1.0

    h, w = small.shape
    total = small.sum()
    com_r = (small.sum(axis=1) @ np.arange(h)) / total
    com_c = (small.sum(axis=0) @ np.arange(w)) / total
    centre = SIDE / 2  # MNIST puts the centre of mass at pixel (14, 14)
    top = int(np.clip(round(centre - com_r), 0, SIDE - h))
    left = int(np.clip(round(centre - com_c), 0, SIDE - w))
    field = np.zeros((SIDE, SIDE), np.float32)
    field[top : top + h, left : left + w] = small
    return np.round(field * 255).astype(np.uint8).reshape(SIDE * SIDE)
