"""The classic manual exercise: one convolution and one pooling step on a single image.

These take and return plain 2-D (H, W) arrays (or (C, H, W) for a multi-channel
image with a (C, k, k) kernel), computed with the same vectorised code as the
Conv2D and MaxPool2D layers, so what a student sees is what the network does.
"""

from __future__ import annotations

import numpy as np

from .conv import MaxPool2D, im2col

KERNELS = {
    "edge": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float64),
    "blur": np.full((3, 3), 1.0 / 9.0),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),
}


def conv2d(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Cross-correlate one image with one kernel: ``out[i,j] = sum_{u,v} kernel[u,v] * img[s i+u, s j+v]``.

    ``image`` is (H, W) or (C, H, W); ``kernel`` is (k, k) or (C, k, k).  Zero
    padding of ``padding`` pixels; output size ``(H + 2p - k) // s + 1``.
    """
    img = np.asarray(image, dtype=np.float64)
    ker = np.asarray(kernel, dtype=np.float64)
    if img.ndim == 2:
        img = img[None]
    if ker.ndim == 2:
        ker = (
            np.broadcast_to(ker, (img.shape[0], *ker.shape)) if img.shape[0] == 1 else ker[None].repeat(img.shape[0], 0)
        )
    if ker.shape[0] != img.shape[0] or ker.shape[1] != ker.shape[2]:
        raise ValueError(f"kernel {kernel.shape} does not match image {image.shape}")
    k = ker.shape[1]
    cols, ho, wo = im2col(img[None], k, stride, padding)
    return (ker.reshape(-1) @ cols).reshape(ho, wo)


def max_pool2d(x: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    """Max over each ``size x size`` window of a (H, W) or (C, H, W) array."""
    arr = np.asarray(x)
    squeeze = arr.ndim == 2
    batch = arr[None, None] if squeeze else arr[None]
    out = MaxPool2D(size, stride).forward(batch)[0]
    return out[0] if squeeze else out


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)``, for the walkthrough's activation step."""
    return np.maximum(x, 0)
