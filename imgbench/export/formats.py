"""Writing a model with loaded weights as an ONNX or a LiteRT file, float or quantised.

Which path each engine takes:

- ONNX, torch engine: PyTorch's own exporter (the TorchScript-based one: 0.1 s against 4-6 s for the
  dynamo exporter here), with a dynamic batch axis.
- ONNX, NumPy and Keras engines: the graph built from the spec and the weights
  (:mod:`.onnx_graph`).  For Keras this replaces ``model.export(format="onnx")``, whose tf2onnx
  graph takes NHWC images: every ONNX file imgbench writes takes NCHW, like the engines.
- LiteRT, every engine: Keras's own export (``model.export(format="litert")``) of the Keras model of
  the spec; the torch and NumPy engines' weights are copied into it (the state-dict names and layouts
  are shared).  A LiteRT model takes NHWC images.

Quantisation: ``float16`` stores the weights as float16 (ONNX: each one cast back to float32 in the
graph; LiteRT: the converter's float16 weights); ``int8`` is dynamic-range quantisation (ONNX
Runtime's ``quantize_dynamic``; LiteRT's default optimisation).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImgbenchError

FORMATS = ("onnx", "litert")
QUANTIZE = ("none", "float16", "int8")
INSTALL = "pip install -c constraints.txt -e '.[export]'"
# The layout of the images each format's file takes (written into its metadata).
LAYOUTS = {"onnx": "NCHW", "litert": "NHWC"}


def require(module: str, package: str) -> Any:
    """``import module``; its absence is one :class:`ImgbenchError` with the install hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImgbenchError(f"export needs {package}: {INSTALL}") from None


def onnx_path(engine: Any) -> str:
    """How the ONNX file of ``engine`` is made (recorded in export.json)."""
    return "torch.onnx.export" if engine.name == "torch" else "imgbench.export.onnx_graph (spec + weights)"


def onnx_model(engine: Any) -> Any:
    """The float32 ``onnx.ModelProto`` of an engine with its weights loaded (input NCHW, batch axis free)."""
    onnx = require("onnx", "onnx")
    if engine.name != "torch":
        from .onnx_graph import build_model

        return build_model(engine.spec, engine.state_dict())
    import torch

    from .onnx_graph import INPUT, OUTPUT

    engine.model.eval()
    example = torch.zeros((2, *engine.spec["input_shape"]), dtype=torch.float32, device=engine.device)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's DeprecationWarning: chosen for its speed
        path = Path(tmp) / "torch.onnx"
        torch.onnx.export(
            engine.model,
            (example,),
            str(path),
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        return onnx.load(str(path))


def _float16_weights(model: Any) -> Any:
    """``model`` with every float32 weight stored as float16 and cast back to float32 where it is used."""
    onnx = require("onnx", "onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    graph = model.graph
    kept, casts = [], []
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        if init.data_type != onnx.TensorProto.FLOAT or array.size < 16:  # shapes, scalars: not worth it
            kept.append(init)
            continue
        kept.append(numpy_helper.from_array(array.astype(np.float16), f"{init.name}:fp16"))
        casts.append(helper.make_node("Cast", [f"{init.name}:fp16"], [init.name], to=onnx.TensorProto.FLOAT))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model


@contextlib.contextmanager
def _logging_quiet() -> Iterator[None]:
    """Mute Python logging below ERROR: ONNX Runtime's quantiser logs advice on the root logger."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def write_onnx(engine: Any, path: Path, quantize: str) -> str:
    """Write the ONNX file of ``engine`` to ``path``; returns the path it took (see the module docstring)."""
    onnx = require("onnx", "onnx")
    model = onnx_model(engine)
    if quantize == "float16":
        model = _float16_weights(model)
    if quantize != "int8":
        onnx.save(model, str(path))
        return onnx_path(engine)
    quantization = require("onnxruntime.quantization", "onnxruntime")
    with tempfile.TemporaryDirectory() as tmp, _logging_quiet():
        source = Path(tmp) / "float.onnx"
        onnx.save(model, str(source))
        quantization.quantize_dynamic(str(source), str(path), weight_type=quantization.QuantType.QInt8)
    return onnx_path(engine) + " + onnxruntime quantize_dynamic"


def keras_model(engine: Any) -> Any:
    """The Keras model of ``engine``'s spec and weights (the engine's own for the Keras engine)."""
    if engine.name == "keras":
        return engine.model
    from ..engines import create_engine

    twin = create_engine("keras", engine.spec)
    twin.load_state_dict(engine.state_dict())
    return twin.model  # type: ignore[attr-defined]


@contextlib.contextmanager
def quiet_native_output() -> Iterator[None]:
    """Silence native stdout/stderr chatter (the converter's MLIR and absl lines, LiteRT's INFO) in the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
        yield
    finally:
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def write_litert(engine: Any, path: Path, quantize: str) -> str:
    """Write the LiteRT file of ``engine`` to ``path`` (ending in ``.tflite``); returns the path it took."""
    require("ai_edge_litert.interpreter", "ai-edge-litert")
    model = keras_model(engine)  # first: creating a Keras engine starts TensorFlow quietly
    import tensorflow as tf

    options: dict[str, Any] = {}
    if quantize != "none":
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        options["target_spec"] = {"supported_types": [tf.float16]}
    with quiet_native_output():
        model.export(str(path), format="litert", verbose=False, **options)
    via = "" if engine.name == "keras" else f" of the {engine.name} weights"
    return f"keras model.export(format='litert'){via}" + ("" if quantize == "none" else f" ({quantize})")
