"""Per-layer timing of the NumPy engine, for the speed benchmark and the README."""

from __future__ import annotations

import time
from collections import defaultdict

from .model import NumpyModel


class LayerProfiler:
    """Wrap every top-level layer's forward/backward to accumulate wall time per layer."""

    def __init__(self, model: NumpyModel):
        self.forward: defaultdict[str, float] = defaultdict(float)
        self.backward: defaultdict[str, float] = defaultdict(float)
        for layer in model.net.layers:
            self._wrap(layer)

    def _wrap(self, layer):
        fwd, bwd, name = layer.forward, layer.backward, layer.name

        def timed_forward(x, *, training=False):
            t = time.perf_counter()
            y = fwd(x, training=training)
            self.forward[name] += time.perf_counter() - t
            return y

        def timed_backward(dy):
            t = time.perf_counter()
            dx = bwd(dy)
            self.backward[name] += time.perf_counter() - t
            return dx

        layer.forward, layer.backward = timed_forward, timed_backward

    def table(self) -> list[tuple[str, float, float]]:
        """``(layer, forward seconds, backward seconds)`` in network order."""
        return [(n, self.forward[n], self.backward.get(n, 0.0)) for n in self.forward]
