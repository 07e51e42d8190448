"""Running an exported file with its own runtime and comparing it with the engine it came from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .formats import quiet_native_output, require

# A float export must give logits within this fraction of the largest engine logit (in absolute value).
TOLERANCE = 1e-4


def onnx_session(path: Path, threads: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A function giving the logits of the ONNX file ``path`` on NCHW float32 images, from one ONNX Runtime
    session on the CPU, kept for every call (``threads``: its intra-op threads; None lets ONNX Runtime pick).
    ONNX Runtime's ``run`` may be called from several threads at once."""
    ort = require("onnxruntime", "onnxruntime")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def logits(X: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {name: X.astype(np.float32, copy=False)})[0])

    return logits


def onnx_logits(path: Path, X: np.ndarray) -> np.ndarray:
    """Logits of the ONNX file ``path`` on NCHW float32 images ``X``, run by ONNX Runtime on the CPU."""
    return onnx_session(path)(X)


def litert_logits(path: Path, X: np.ndarray) -> np.ndarray:
    """Logits of the LiteRT file ``path`` on NCHW float32 images ``X`` (given to it NHWC), run by LiteRT."""
    interpreter_module = require("ai_edge_litert.interpreter", "ai-edge-litert")
    given = np.ascontiguousarray(X.transpose(0, 2, 3, 1) if X.ndim == 4 else X, dtype=np.float32)
    with quiet_native_output():  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" INFO line
        interpreter = interpreter_module.Interpreter(model_path=str(path))
        source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        interpreter.resize_tensor_input(source["index"], given.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(source["index"], given)
        interpreter.invoke()
    return np.asarray(interpreter.get_tensor(target["index"]))


RUNTIMES = {"onnx": onnx_logits, "litert": litert_logits}


def compare(reference: np.ndarray, exported: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The parity figures of exported logits against the engine's, on images with labels ``y``."""
    largest = float(np.abs(reference).max()) if reference.size else 0.0
    return {
        "images": len(y),
        "max_abs_diff": float(np.abs(exported - reference).max()) if reference.size else 0.0,
        "largest_logit": largest,
        "allowed_diff": TOLERANCE * largest,
        "top1_agreement": float(np.mean(exported.argmax(1) == reference.argmax(1))) if len(y) else 1.0,
        "accuracy": float(np.mean(exported.argmax(1) == y)) if len(y) else 0.0,
        "engine_accuracy": float(np.mean(reference.argmax(1) == y)) if len(y) else 0.0,
    }


def float_check_failure(figures: dict[str, Any]) -> str | None:
    """Why a float export fails its check (None when it passes): the logits differ or a top-1 label does."""
    if figures["max_abs_diff"] > figures["allowed_diff"]:
        return (
            f"its logits differ from the engine's by up to {figures['max_abs_diff']:.3g}, more than the "
            f"{figures['allowed_diff']:.3g} allowed ({TOLERANCE:g} of the largest logit {figures['largest_logit']:.3g})"
        )
    if figures["top1_agreement"] < 1.0:
        return f"it agrees with the engine's top-1 label on only {figures['top1_agreement']:.2%} of the images"
    return None
