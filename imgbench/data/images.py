"""Turning a user's image file into the input a trained model expects.

Two styles, chosen when the model is trained and stored with the run:

- ``mnist``: the classic MNIST preprocessing for a digit photographed or
  drawn by a user: grey, inverted when the paper is lighter than the ink,
  background removed, cropped to the ink, scaled so its longer side is 20
  pixels (aspect ratio kept), then placed in a 28x28 field so that its centre
  of mass sits at the centre, exactly how the MNIST digits were made.
- ``fit``: grey or RGB as the training data; inverted when the training
  images have dark backgrounds and this one is light (Fashion-MNIST); resized
  to fit inside H x W with the aspect ratio kept and padded with the
  background colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import DataFormatError
from .formats import FORMATS, path_format

if TYPE_CHECKING:
    from PIL import Image  # imported where used: Pillow is slow to import and not every command needs it

MAX_PIXELS = 64_000_000  # refuse decompression bombs well below Pillow's own limit


def load_image(path: str | Path) -> Image.Image:
    """Open an image with Pillow, fully decoded; a clear error names a file that is not an image."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such image file")
    try:
        im = Image.open(path)
        if im.width * im.height > MAX_PIXELS:
            raise DataFormatError(f"{path}: image is {im.width}x{im.height}; expected at most {MAX_PIXELS:,} pixels")
        im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataFormatError(f"{path}: not a readable image (expected PNG, JPEG, WebP or BMP): {exc}") from None
    return im


def _flatten_alpha(im: Image.Image) -> Image.Image:
    """Composite transparency onto white, as a drawing on paper."""
    from PIL import Image

    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    return im


def _border(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The pixels on the outermost 5% of each edge (at least one pixel)."""
    h, w = a.shape[:2]
    m = max(1, min(h, w) // 20)
    return np.concatenate(
        [
            a[:m].reshape(-1, *a.shape[2:]),
            a[-m:].reshape(-1, *a.shape[2:]),
            a[:, :m].reshape(-1, *a.shape[2:]),
            a[:, -m:].reshape(-1, *a.shape[2:]),
        ]
    )


def mnist_digit(grey: npt.NDArray[Any], size: int = 28, box: int = 20) -> npt.NDArray[np.uint8]:
    """MNIST-style (size x size) uint8 digit, white ink on black, from any grey image."""
    from PIL import Image

    a = grey.astype(np.float64)
    background = float(np.median(_border(a)))
    if background > 127:  # dark ink on light paper: MNIST has light ink on black
        a = 255.0 - a
        background = 255.0 - background
    peak = a.max()
    if peak - background < 10:
        raise DataFormatError("the image has no visible ink: expected a digit darker or lighter than the paper")
    a = np.clip((a - background) / (peak - background), 0.0, 1.0)  # paper -> 0, strongest ink -> 1
    ink = a > 0.25
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    glyph = np.asarray(
        Image.fromarray((crop * 255).astype(np.uint8)).resize(new, Image.Resampling.LANCZOS), dtype=np.float64
    )
    total = glyph.sum()
    yy, xx = np.indices(glyph.shape)
    cy, cx = (yy * glyph).sum() / total, (xx * glyph).sum() / total
    top = int(round((size - 1) / 2 - cy))
    left = int(round((size - 1) / 2 - cx))
    top = min(max(top, 0), size - glyph.shape[0])
    left = min(max(left, 0), size - glyph.shape[1])
    out = np.zeros((size, size))
    out[top : top + glyph.shape[0], left : left + glyph.shape[1]] = glyph
    return np.clip(out, 0, 255).astype(np.uint8)


def fit_image(im: Image.Image, image_shape: Sequence[int], dark_background: bool = False) -> npt.NDArray[np.uint8]:
    """(C, H, W) uint8: colour mode of the training data, aspect ratio kept, padded with the background."""
    from PIL import Image

    c, h, w = image_shape
    im = im.convert("L" if c == 1 else "RGB")
    a = np.asarray(im)
    if dark_background and float(np.median(_border(a if a.ndim == 2 else a.mean(axis=2)))) > 127:
        im = Image.fromarray(255 - a)
        a = np.asarray(im)
    scale = min(w / im.width, h / im.height)
    new = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    im = im.resize(new, Image.Resampling.LANCZOS)
    fill = np.median(_border(a), axis=0) if a.ndim == 3 else float(np.median(_border(a)))
    canvas = np.empty((h, w) if c == 1 else (h, w, 3), dtype=np.uint8)
    canvas[...] = np.asarray(fill, dtype=np.uint8) if np.ndim(fill) else int(fill)
    top, left = (h - new[1]) // 2, (w - new[0]) // 2
    canvas[top : top + new[1], left : left + new[0]] = np.asarray(im)
    return canvas[None] if c == 1 else canvas.transpose(2, 0, 1)


def image_to_input(
    path: str | Path, image_shape: Sequence[int], style: str = "fit", dark_background: bool = False
) -> npt.NDArray[np.uint8]:
    """Read ``path`` and return a (C, H, W) uint8 array shaped like the training images."""
    try:
        return picture_to_input(load_image(path), image_shape, style, dark_background)
    except DataFormatError as exc:
        message = str(exc)
        raise DataFormatError(message if message.startswith(f"{path}: ") else f"{path}: {message}") from None


def picture_to_input(
    im: Image.Image, image_shape: Sequence[int], style: str = "fit", dark_background: bool = False
) -> npt.NDArray[np.uint8]:
    """A decoded picture as a (C, H, W) uint8 array shaped like the training images (``style`` "mnist": centred
    by its centre of mass in a 20x20 box, as MNIST's digits are; "fit": resized to fit, inverted to the data's
    background)."""
    im = _flatten_alpha(im)
    if style == "mnist":
        c, h, w = image_shape
        digit = mnist_digit(np.asarray(im.convert("L")), size=h, box=round(h * 20 / 28))
        return digit[None] if c == 1 else np.repeat(digit[None], c, axis=0)
    return fit_image(im, tuple(image_shape), dark_background)


def load_grey(path: str | Path, max_side: int = 256) -> npt.NDArray[np.uint8]:
    """A user's image as a 2-D uint8 grey array (transparency on white), shrunk to ``max_side`` pixels at most."""
    im = _flatten_alpha(load_image(path)).convert("L")
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side))
    return np.asarray(im)


def preprocessing_style(dataset_name: str, image_shape: Sequence[int]) -> str:
    """``mnist`` for handwritten-digit data in MNIST's 28x28 format, otherwise ``fit``."""
    # A 28x28 Kaggle CSV is the Digit Recognizer competition: MNIST digits.
    kaggle_digits = path_format(dataset_name) is FORMATS["csv"] and tuple(image_shape) == (1, 28, 28)
    return "mnist" if dataset_name == "mnist" or kaggle_digits else "fit"


def has_dark_background(X: npt.NDArray[np.uint8]) -> bool:
    """Whether training images are mostly dark at their borders (MNIST, Fashion-MNIST)."""
    sample = X[: min(len(X), 2000)]
    edges = np.concatenate(
        [sample[:, :, 0].ravel(), sample[:, :, -1].ravel(), sample[:, :, :, 0].ravel(), sample[:, :, :, -1].ravel()]
    )
    return float(np.median(edges)) < 64
