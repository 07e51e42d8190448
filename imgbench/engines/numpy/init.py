"""Weight initialisers named by the spec (He and Glorot, normal and uniform).

For a dense layer ``fan_in`` is its input width; for a convolution it is
``C_in * kh * kw`` and ``fan_out`` is ``C_out * kh * kw``.  The normal
variants are plain (untruncated) normals, as in PyTorch's ``kaiming_normal_``
and ``xavier_normal_``.
"""

from __future__ import annotations

import numpy as np


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape`` ((out, in) or (out, in, kh, kw))."""
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def initialise(name: str, shape: tuple[int, ...], rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """A new weight array drawn from initialiser ``name``."""
    fan_in, fan_out = fans(shape)
    if name == "he_uniform":
        bound = np.sqrt(6.0 / fan_in)
        w = rng.uniform(-bound, bound, shape)
    elif name == "he_normal":
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    elif name == "glorot_uniform":
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-bound, bound, shape)
    elif name == "glorot_normal":
        w = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), shape)
    else:
        raise ValueError(f"unknown initialiser '{name}'")
    return w.astype(dtype)
