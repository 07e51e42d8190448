r"""Attention rollout (Abnar & Zuidema 2020): where a vision transformer looks, drawn over the input image.

Attention alone mixes tokens layer by layer, and every block also passes its input on through a residual
connection.  Rollout follows both paths through the whole stack: with :math:`\bar A_l` layer l's attention
averaged over its heads,

.. math:: \hat A_l = \frac{\bar A_l + I}{\mathrm{rowsum}(\bar A_l + I)}, \qquad
   R = \hat A_L \hat A_{L-1} \cdots \hat A_1

so that row i of R says how much of each input token flows into token i at the top.  The row that the
classifier reads (the class token's, or the mean of all rows when the model pools by mean) over the patch
tokens, laid out on the patch grid, is the map drawn over the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .inside import plot_overlay

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def attention_rollout(maps: Sequence[np.ndarray]) -> np.ndarray:
    """The rollout ``R`` (N, T, T) of attention probabilities ``maps``, each (N, heads, T, T), first layer first."""
    if not maps:
        raise ValueError("attention rollout needs the attention of at least one layer")
    rollout: np.ndarray | None = None
    for attention in maps:
        mixed = np.asarray(attention, dtype=np.float64).mean(axis=1)  # average the heads
        mixed = mixed + np.eye(mixed.shape[-1])  # the residual path: each token keeps itself
        mixed /= mixed.sum(axis=-1, keepdims=True)
        rollout = mixed if rollout is None else mixed @ rollout  # later layers act on the left
    assert rollout is not None
    return rollout


def token_relevance(rollout: np.ndarray, extra_tokens: int, pooling: str) -> np.ndarray:
    """The relevance (N, P) of the P patch tokens for the classifier, scaled so that each row sums to 1.

    ``extra_tokens`` tokens (the class token) come before the patches; ``pooling`` is ``class`` (the
    classifier reads token 0, so its row of the rollout) or ``mean`` (the mean of every token's row).
    The columns of the extra tokens are left out: only patches have a place on the image.
    """
    if pooling not in ("class", "mean"):
        raise ValueError(f"token pooling must be 'class' or 'mean', got {pooling!r}")
    row = rollout[:, 0] if pooling == "class" else rollout.mean(axis=1)
    patches = row[:, extra_tokens:]
    return patches / patches.sum(axis=-1, keepdims=True)


def patch_grid(relevance: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Per-pixel relevance (H, W) of one image's patch relevance (P,): the P patches tile the H x W image
    row by row in equal squares, each pixel takes its patch's value."""
    h, w = image_size
    side = int(round(np.sqrt(h * w / relevance.size)))
    rows, cols = h // side, w // side
    if rows * cols != relevance.size or rows * side != h or cols * side != w:
        raise ValueError(f"{relevance.size} square patches do not tile a {h}x{w} image")
    return np.repeat(np.repeat(relevance.reshape(rows, cols), side, axis=0), side, axis=1)


def plot_attention_rollout(image: np.ndarray, relevance: np.ndarray, path: str | Path, title: str = "") -> Figure:
    """The image (C, H, W), the rollout relevance of its patches (P,) on the patch grid, and the two overlaid."""
    pixels = patch_grid(relevance, image.shape[-2:])
    return plot_overlay(
        image,
        pixels / (pixels.max() or 1.0),
        path,
        heat_title=f"rollout of {relevance.size} patches\n(relative to the largest)",
        title=title or "attention rollout",
        cmap="inferno",
        interpolation="nearest",  # each patch is one token: drawn as a flat square, not smoothed into the next
    )
