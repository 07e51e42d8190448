"""Uploaded images: the byte and pixel limits, the formats decoded, and the model's view of an upload.

Only PNG, JPEG, WebP, BMP and GIF are decoded (Pillow is told to try no other decoder), and an image's
size is read from its header and checked against the pixel limit before any pixel is decoded, so a
small file that expands to gigabytes (a decompression bomb) is refused without being expanded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ..data.images import picture_to_input
from ..errors import DataFormatError

FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")  # Pillow's names of the formats the server decodes
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 25_000_000  # a 5000x5000 photo; far more than any model here looks at


class UploadRefused(Exception):
    """An upload the server will not use, with the HTTP status that says why (413, 415 or 422)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class UploadLimits:
    """How large an upload may be, in bytes (checked while it streams in) and in pixels (before decoding)."""

    max_bytes: int = MAX_UPLOAD_BYTES
    max_pixels: int = MAX_PIXELS


def checked_format(data: bytes, limits: UploadLimits) -> str:
    """The format of the image in ``data`` (one of :data:`FORMATS`), read from its header, which passed the
    limits; no pixel is decoded here.

    UploadRefused: 415 for anything else, 413 for too many pixels, 422 for a damaged header.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise UploadRefused(422, "the upload is empty: expected an image file")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:  # reads the header only
            width, height, fmt = im.width, im.height, im.format
            if width * height > limits.max_pixels:
                raise UploadRefused(
                    413,
                    f"the image is {width}x{height} = {width * height:,} pixels; at most {limits.max_pixels:,} are "
                    "decoded (a larger image may be a decompression bomb)",
                )
    except UnidentifiedImageError:
        raise UploadRefused(415, "not a PNG, JPEG, WebP, BMP or GIF image") from None
    except Image.DecompressionBombError as exc:  # Pillow's own guard, should its limit ever be lower
        raise UploadRefused(413, f"the image has too many pixels to decode: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UploadRefused(422, f"the image file is damaged: {exc}") from None
    assert fmt is not None  # Pillow names the format of every image it opened
    return fmt


def model_input(data: bytes, preprocess: dict, limits: UploadLimits) -> np.ndarray:
    """The (C, H, W) uint8 image a run's model sees for an upload, preprocessed exactly as ``predict`` does."""
    from PIL import Image

    checked_format(data, limits)
    style, dark = preprocess.get("style", "fit"), preprocess.get("dark_background", False)
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:  # only the formats checked above
            im.load()
            return picture_to_input(im, tuple(preprocess["image_shape"]), style, dark)
    except DataFormatError as exc:  # no ink in it, say
        raise UploadRefused(422, str(exc)) from None
    except (OSError, SyntaxError, ValueError) as exc:  # damaged pixel data past a readable header
        raise UploadRefused(422, f"the image file is damaged: {exc}") from None
