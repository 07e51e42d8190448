"""The classic manual exercise in one figure: image -> convolution -> ReLU -> 2x2 max-pooling.

Every number comes from the NumPy engine's own ``conv2d`` / ``relu`` /
``max_pool2d`` (the code the Conv2D and MaxPool2D layers run), so what a
student sees is what the network computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..engines.numpy.teaching import conv2d, max_pool2d, relu
from .plots import pyplot, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class Walkthrough:
    """The arrays of each step (all 2-D, float64) and the settings that produced them."""

    image: np.ndarray
    kernel: np.ndarray
    convolved: np.ndarray
    activated: np.ndarray
    pooled: np.ndarray
    stride: int
    padding: int
    kernel_name: str


def compute_walkthrough(
    image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0, kernel_name: str = "kernel"
) -> Walkthrough:
    """Run the steps on a 2-D image (values as given; the figure shows them unchanged)."""
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if image.ndim != 2 or kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"expected a 2-D image and a square 2-D kernel, found {image.shape} and {kernel.shape}")
    convolved = conv2d(image, kernel, stride=stride, padding=padding)
    activated = relu(convolved)
    pooled = max_pool2d(activated, 2, 2) if min(activated.shape) >= 2 else activated
    return Walkthrough(image, kernel, convolved, activated, pooled, stride, padding, kernel_name)


def _shape(a: np.ndarray) -> str:
    return "x".join(map(str, a.shape))


def plot_walkthrough(w: Walkthrough, path: str | Path, title: str = "") -> Figure:
    """Five panels (original, kernel with its values, convolved, ReLU, max-pooled), shapes annotated."""
    plt = pyplot()
    fig, axes = plt.subplots(
        1, 5, figsize=(17, 4.4), gridspec_kw={"width_ratios": [1, 0.8, 1, 1, 1]}, layout="constrained"
    )
    h, wd = w.image.shape
    k = w.kernel.shape[0]
    out_h = (h + 2 * w.padding - k) // w.stride + 1
    axes[0].imshow(w.image, cmap="gray")
    axes[0].set_title(f"1. input\n{_shape(w.image)}")
    limit = float(np.abs(w.kernel).max()) or 1.0
    axes[1].imshow(w.kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    if k <= 7:
        for (i, j), v in np.ndenumerate(w.kernel):
            axes[1].text(
                j,
                i,
                f"{v:.2g}",
                ha="center",
                va="center",
                fontsize=9 if k <= 5 else 7,
                color="white" if abs(v) > 0.6 * limit else "black",
            )
    axes[1].set_title(f"2. {w.kernel_name} kernel\n{k}x{k}")
    lim = float(np.abs(w.convolved).max()) or 1.0
    axes[2].imshow(w.convolved, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2].set_title(
        f"3. convolved (stride {w.stride}, padding {w.padding})\n"
        f"{_shape(w.convolved)} = ({h} + 2·{w.padding} − {k}) // {w.stride} + 1 = {out_h}"
    )
    axes[3].imshow(w.activated, cmap="magma")
    axes[3].set_title(f"4. ReLU: max(x, 0)\n{_shape(w.activated)}")
    axes[4].imshow(w.pooled, cmap="magma")
    axes[4].set_title(f"5. 2x2 max-pool, stride 2\n{_shape(w.pooled)}")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title or "one convolution and pooling step, computed by imgbench's NumPy engine")
    save_figure(fig, path)
    plt.close(fig)
    return fig
