"""Your own digit as an MNIST image: read a picture and prepare it the way MNIST's digits were (needs Pillow).

MNIST's recipe (LeCun et al.): the digit's ink is cropped to its bounding box, scaled to fit in 20 × 20
with its aspect ratio kept (anti-aliased, hence the grey levels), then placed in a 28 × 28 field so that its
centre of mass is at the centre. Ink is bright (255) on a black (0) background.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

import numpy as np

from jaxmlp.errors import InputError

BOX = 20  # the digit fits in BOX × BOX pixels ...
SIDE = 28  # ... centred by mass in SIDE × SIDE
MIN_CONTRAST = 0.1  # ink must differ from the background by at least this much (of full scale)


def read_digit(path: str | os.PathLike | BinaryIO) -> np.ndarray:
    """The image at ``path`` or in a binary file object (any size, PNG/JPEG/...; dark ink on light or light on dark)
    as MNIST ``(784,)`` uint8.

    Raises ``ValueError`` with a one-line message for a missing, unreadable or blank image.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        raise ImportError("reading images needs Pillow: pip install 'jaxmlp[plot]'") from None
    path = path if hasattr(path, "read") else os.fspath(path)
    try:
        with Image.open(path) as image:
            image.load()
            ink = _ink_from_image(image)
    except FileNotFoundError:
        raise InputError(f"no image file at {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise InputError(f"cannot read {path} as an image ({type(error).__name__})") from None
    try:
        return preprocess_digit(ink)
    except ValueError as error:
        raise InputError(f"{path}: {error}") from None


def _ink_from_image(image: Any) -> np.ndarray:
    """Grey levels in [0, 1]. A transparent canvas is filled with white behind dark strokes, black behind light ones."""
    if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), np.float32) / 255.0
        if alpha.min() < 1.0:
            gray = np.asarray(rgba.convert("L"), np.float32) / 255.0
            strokes = gray[alpha > 0.5]
            paper = 1.0 if strokes.size and np.median(strokes) < 0.5 else 0.0
            return alpha * gray + (1.0 - alpha) * paper
    return np.asarray(image.convert("L"), np.float32) / 255.0


def preprocess_digit(image: Any, *, ink_is_bright: bool | None = None) -> np.ndarray:
    """A 2-D grey image (uint8 0..255 or float 0..1) of a digit → MNIST ``(784,)`` uint8, ink 255 on 0.

    Polarity (unless ``ink_is_bright`` is given): the median of the outer border is the background; a light
    border means dark ink, which is inverted. The background level is subtracted, the ink cropped to its
    bounding box, resized to fit 20 × 20 (aspect kept, Lanczos anti-aliasing), scaled to a peak of 255 and
    shifted so its centre of mass lands on the centre of the 28 × 28 field.
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
        ink_is_bright = np.median(border) < 0.5
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
