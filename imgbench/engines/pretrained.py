"""Weights from a file, by the shared names and layouts of :mod:`.base`, whichever engine (or tool) wrote it.

``.npz`` (the NumPy engine's weights or checkpoints, or any arrays saved by those names), ``.pt``/``.pth``
(a PyTorch ``state_dict``, or a checkpoint holding one under ``model`` or ``state_dict``; read with
``weights_only=True``, never unpickled), ``.safetensors`` (read here with NumPy: an 8-byte header length,
a JSON header, raw little-endian arrays) and Keras ``.weights.h5`` (read into a Keras model of the spec,
since the file names Keras's variables, not imgbench's).  The names must be imgbench's
(``conv1.weight``, ``res1.bn1.running_var``): a torchvision or timm ResNet-18 uses other names and
architectures imgbench does not build, so it does not load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImgbenchError
from .base import Array, reading_weights

SUFFIXES = (".npz", ".pt", ".pth", ".safetensors", ".weights.h5")
# safetensors dtype names -> NumPy (bf16 has no NumPy type; imgbench writes float32)
_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "?"}


def read_weights_file(path: str | Path, spec: dict[str, Any]) -> dict[str, Array]:
    """The ``{name: array}`` weights in ``path``; ``spec`` is the model they are meant for (Keras files need it).

    A file that cannot be read is an :class:`ImgbenchError` naming it.
    """
    path = Path(path)
    suffix = next((s for s in SUFFIXES if path.name.endswith(s)), None)
    if suffix is None:
        raise ImgbenchError(f"{path}: not a weights file: expected a run directory or a {', '.join(SUFFIXES)} file")
    if not path.is_file():
        raise ImgbenchError(f"{path}: no such weights file or run directory")
    with reading_weights(path, "weights"):
        if suffix == ".npz":
            return _npz(path)
        if suffix in (".pt", ".pth"):
            return _torch(path)
        if suffix == ".safetensors":
            return _safetensors(path)
        return _keras(path, spec)


def _npz(path: Path) -> dict[str, Array]:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "__spec__"}
    model = {k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")}
    return model or arrays  # a NumPy checkpoint keeps its weights under model/


def _torch(path: Path) -> dict[str, Array]:
    try:
        import torch
    except ImportError:
        raise ImgbenchError(f"{path}: reading .pt weights needs PyTorch: pip install -e '.[torch]'") from None
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("model", "state_dict"):  # an imgbench checkpoint, a Lightning-style checkpoint
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ImgbenchError(f"{path}: not a state_dict (a mapping of names to tensors)")
    return {
        k: v.detach().float().contiguous().numpy() if v.is_floating_point() else v.numpy()
        for k, v in state.items()
        if not k.endswith("num_batches_tracked")
    }


def _safetensors(path: Path) -> dict[str, Array]:
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    body = memoryview(data)[8 + size :]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in _SAFETENSORS_DTYPES:
            raise ImgbenchError(f"{path}: {name} has dtype {entry['dtype']}, which imgbench does not read")
        start, end = entry["data_offsets"]
        array = np.frombuffer(body[start:end], dtype=_SAFETENSORS_DTYPES[entry["dtype"]])
        out[name] = array.reshape(entry["shape"]).copy()
    return out


def _keras(path: Path, spec: dict[str, Any]) -> dict[str, Array]:
    from .base import create_engine

    engine = create_engine("keras", spec)
    engine.load(path)
    return engine.state_dict()
