"""A NumPy network built from a resolved spec through the engine's one builder table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ImgbenchError
from ...fileio import atomic_write
from ...specs import resolve
from . import activations, attention, conv, layers, norm, tokens
from .layers import Builder, Layer


class Sequential(Layer):
    """Layers applied in order; backward runs them in reverse."""

    def __init__(self, layers: list[Layer], name: str = ""):
        super().__init__(name)
        self.layers = layers

    def forward(self, x, *, training=False):
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def named_layers(self):
        """Every leaf layer with its dotted name."""
        for layer in self.layers:
            yield from layer.named_layers()

    def zero_grad(self):
        for _, layer in self.named_layers():
            layer.zero_grad()

    def astype(self, dtype):
        for _, layer in self.named_layers():
            layer.astype(dtype)
        return self


class Residual(Sequential):
    r"""Residual block: the main layers' output plus the shortcut's (the identity when it has no layers).

    Forward:  :math:`y = \mathrm{main}(x) + \mathrm{shortcut}(x)`.
    Backward: :math:`dx = \mathrm{main}'(dy) + \mathrm{shortcut}'(dy)`, where :math:`f'(g)` is ``f.backward(g)``.
    """

    def __init__(self, main: list[Layer], shortcut: list[Layer], name: str = ""):
        super().__init__(main, name)
        self.shortcut = Sequential(shortcut, name + ".sc")

    def forward(self, x, *, training=False):
        return super().forward(x, training=training) + self.shortcut.forward(x, training=training)

    def backward(self, dy):
        return super().backward(dy) + self.shortcut.backward(dy)

    def named_layers(self):
        yield from super().named_layers()
        yield from self.shortcut.named_layers()


class Concat(Layer):
    r"""Parallel branches side by side on the channel axis (Inception); an empty branch passes ``x`` on.

    Forward:  :math:`y = [\mathrm{branch}_1(x), \dots, \mathrm{branch}_B(x)]` joined along axis 1.
    Backward: :math:`dy` is cut back into the branches' channel blocks :math:`dy_b`, and
    :math:`dx = \sum_b \mathrm{branch}_b'(dy_b)`, where :math:`f'(g)` is ``f.backward(g)``.
    """

    def __init__(self, branches: list[Sequential], name: str = ""):
        super().__init__(name)
        self.branches = branches

    def forward(self, x, *, training=False):
        outs = [branch.forward(x, training=training) for branch in self.branches]
        self.cache = np.cumsum([out.shape[1] for out in outs])[:-1]  # where each branch's channels start
        return np.concatenate(outs, axis=1)

    def backward(self, dy):
        parts = np.split(dy, self.cache, axis=1)
        return sum(branch.backward(part) for branch, part in zip(self.branches, parts, strict=True))

    def named_layers(self):
        for branch in self.branches:
            yield from branch.named_layers()


def _table(*parts: dict[str, Builder]) -> dict[str, Builder]:
    """The builder rows of every layer module in one table; a type claimed twice is a bug."""
    table: dict[str, Builder] = {}
    for part in parts:
        twice = table.keys() & part.keys()
        if twice:
            raise ValueError(f"layer types with two NumPy builders: {sorted(twice)}")
        table.update(part)
    return table


def _build(specs: list[dict], in_shape: tuple, rng: np.random.Generator) -> list[Layer]:
    """The layers of a resolved layer list, in order (weights drawn from ``rng`` in that order)."""
    out: list[Layer] = []
    shape = in_shape
    for spec in specs:
        builder = BUILDERS.get(spec["type"])
        if builder is None:
            raise ImgbenchError(f"the NumPy engine has no builder for layer type '{spec['type']}'")
        out.append(builder(spec, shape, rng))
        shape = tuple(spec["output_shape"])
    return out


# Layer type -> build(spec, in_shape, rng): the NumPy engine's one builder table.
BUILDERS: dict[str, Builder] = _table(
    layers.BUILDERS,
    activations.BUILDERS,
    conv.BUILDERS,
    norm.BUILDERS,
    tokens.BUILDERS,
    attention.BUILDERS,
    {
        "residual": lambda spec, shape, rng: Residual(
            _build(spec["layers"], shape, rng), _build(spec["shortcut"], shape, rng), spec["name"]
        ),
        "concat": lambda spec, shape, rng: Concat(
            [
                Sequential(_build(branch, shape, rng), f"{spec['name']}.b{i}")
                for i, branch in enumerate(spec["branches"], 1)
            ],
            spec["name"],
        ),
    },
)


class NumpyModel:
    """A network from a spec: forward, backward, parameters, state dict, activations."""

    def __init__(self, spec: dict, seed: int = 0, dtype=np.float32):
        self.spec = resolve(spec) if not all("output_shape" in layer for layer in spec["layers"]) else spec
        self.net = Sequential(_build(self.spec["layers"], tuple(self.spec["input_shape"]), np.random.default_rng(seed)))
        self.net.layers[0].needs_input_grad = False  # nobody needs d(loss)/d(image) while training
        if dtype != np.float32:
            self.net.astype(dtype)

    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """Logits for a batch of NCHW images."""
        return self.net.forward(X, training=training)

    def backward(self, dlogits: np.ndarray):
        """Back-propagate; parameter gradients accumulate into each layer's ``grads``."""
        return self.net.backward(dlogits)

    def input_gradient(self, dlogits: np.ndarray) -> np.ndarray:
        """``d/dX`` after a forward pass (for saliency and gradient checks)."""
        first = self.net.layers[0]
        first.needs_input_grad = True
        try:
            return self.net.backward(dlogits)
        finally:
            first.needs_input_grad = False

    def zero_grad(self) -> None:
        self.net.zero_grad()

    def parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(name, parameter, gradient)`` triples, e.g. ``("conv1.weight", W, dW)``."""
        return [
            (f"{lname}.{k}", layer.params[k], layer.grads[k])
            for lname, layer in self.net.named_layers()
            for k in layer.params
        ]

    def param_count(self) -> int:
        return int(sum(p.size for _, p, _ in self.parameters()))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters and buffers by dotted name (PyTorch's naming: weight, bias, running_mean, ...)."""
        out = {}
        for lname, layer in self.net.named_layers():
            for k, v in {**layer.params, **layer.buffers}.items():
                out[f"{lname}.{k}"] = v
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the model; names and shapes must match exactly."""
        own = self.state_dict()
        missing, unexpected = set(own) - set(state), set(state) - set(own)
        if missing or unexpected:
            raise ImgbenchError(
                f"weights do not fit this model: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
            )
        for k, v in state.items():
            if own[k].shape != np.shape(v):
                raise ImgbenchError(f"weights do not fit this model: {k} is {own[k].shape}, file has {np.shape(v)}")
            own[k][...] = v

    def activations(self, X: np.ndarray, layer_names: list[str] | None = None) -> dict[str, np.ndarray]:
        """Outputs of the named top-level layers (all if None) for ``X``, in NCHW / (N, F)."""
        out = {}
        x = X
        for layer in self.net.layers:
            x = layer.forward(x, training=False)
            if layer_names is None or layer.name in layer_names:
                out[layer.name] = x.copy()
        return out

    def save(self, path: str | Path) -> None:
        """Write weights and the spec (as JSON) to one ``.npz``, atomically."""
        arrays: dict[str, Any] = dict(self.state_dict())  # Any: numpy's stub reads ** as its allow_pickle flag
        arrays["__spec__"] = np.array(json.dumps(self.spec))
        with atomic_write(path, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> NumpyModel:
        """Read a model written by :meth:`save` (never unpickles: ``allow_pickle=False``)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                spec = json.loads(str(z["__spec__"]))
                state = {k: z[k] for k in z.files if k != "__spec__"}
        except (OSError, ValueError, KeyError) as exc:
            raise ImgbenchError(f"{path}: not an imgbench NumPy weights file ({exc})") from None
        model = cls(spec)
        model.load_state_dict(state)
        return model
