"""What the server computes for one image: the prediction with its saliency, every layer's output, and how
one value of a convolution or pooling layer comes out of the layer's input.

The prediction is made as ``imgbench predict`` makes it and the maps are the ones ``imgbench visualize``
draws (the engine's ``predict_logits``, ``activations`` and ``input_gradient``); a value is explained with
the NumPy teaching code the ``walkthrough`` command uses, and checked against the engine's own output.
"""

from __future__ import annotations

import base64
import contextlib

import numpy as np

from ..engines.numpy.teaching import conv2d, max_pool2d
from ..errors import ImgbenchError
from ..evaluation import softmax
from ..runs.predict import ranked
from ..runs.visualize import MAP_LAYERS
from ..specs import LAYERS
from ..specs.layerdef import padding_amount
from ..viz.inside import saliency_map
from .models import ServedRun

EXPLAINED = ("conv2d", "depthwiseconv2d", "maxpool2d", "avgpool2d")  # the layers whose values are explained

DIGITS = 5  # decimals sent: far below what a picture or the arithmetic shown needs, and a third of the bytes


class BadQuery(ImgbenchError):
    """A request that names a layer, channel or position the model does not have (answered 422)."""


def _numbers(a: np.ndarray) -> list:
    return np.round(np.asarray(a, dtype=np.float64), DIGITS).tolist()


def shown_layers(spec: dict) -> list[dict]:
    """The top-level layers the page shows: feature maps (conv, pool, blocks) and dense layers (as bars)."""
    shown = []
    for layer in spec["layers"]:
        kind = "maps" if layer["type"] in MAP_LAYERS else "vector" if LAYERS[layer["type"]].classifier else None
        if kind is not None:
            shown.append(
                {
                    "name": layer["name"],
                    "type": layer["type"],
                    "shape": layer["output_shape"],
                    "kind": kind,
                    "explained": layer["type"] in EXPLAINED,
                }
            )
    return shown


def prediction(
    run: ServedRun, raw: np.ndarray, top_k: int = 3, saliency: bool = False, runtime: str = "engine"
) -> dict:
    """Top-k labels and every class's probability (as ``predict`` reports them), computed by the run's engine
    or (``runtime`` "onnx") by ONNX Runtime on its export; with ``saliency``, the map ``|d logit / d pixel|``
    of the top class from the engine (max over channels, scaled to 0..1, as ``visualize`` draws it)."""
    x = run.inputs(raw)
    names = run.class_names
    logits = run.onnx_logits(x) if runtime == "onnx" else None
    with run.lock:
        if logits is None:
            logits = run.engine.predict_logits(x)
        probs = softmax(logits)[0]
        result = {"run": run.name, "runtime": runtime, **ranked(probs, names, max(1, min(top_k, len(names))))}
        grad = None
        if saliency:
            # No gradients from this engine here: the rest of the answer stands.
            with contextlib.suppress(ImgbenchError):
                grad = run.engine.input_gradient(x, np.array([result["class_index"]]))[0]
    if saliency:
        result["saliency"] = None
        if grad is not None:
            result["saliency"] = _numbers(saliency_map(grad))
    return result


def layer_outputs(
    run: ServedRun, raw: np.ndarray, names: list[str] | None = None, encoding: str = "list"
) -> list[dict]:
    """Each shown layer's output for ``raw`` (or only the layers ``names``): (C, H, W) maps or (F,) vectors.

    ``encoding`` "list" sends nested lists of numbers; "base64" the float32 bytes (little-endian, C order) in
    base64, which a page reads into a Float32Array: 14,000 values take about 4 ms to write as JSON numbers
    and 0.1 ms as base64.
    """
    shown = shown_layers(run.spec)
    if names is not None:
        unknown = sorted(set(names) - {layer["name"] for layer in shown})
        if unknown:
            raise BadQuery(
                f"no shown layer named {', '.join(unknown)} in {run.spec['name']}: "
                f"expected some of {', '.join(layer['name'] for layer in shown)}"
            )
        shown = [layer for layer in shown if layer["name"] in names]
    x = run.inputs(raw)
    with run.lock:
        acts = run.engine.activations(x, [layer["name"] for layer in shown]) if shown else {}
    out = []
    for layer in shown:
        values = acts[layer["name"]][0]
        sent = _numbers(values) if encoding == "list" else base64.b64encode(values.astype("<f4").tobytes()).decode()
        out.append({**layer, "min": float(values.min()), "max": float(values.max()), "values": sent})
    return out


def _layer_and_input(spec: dict, name: str) -> tuple[dict, str | None]:
    """The top-level layer ``name`` and the layer whose output is its input (None: the image)."""
    layers = spec["layers"]
    for i, layer in enumerate(layers):
        if layer["name"] == name:
            if layer["type"] not in EXPLAINED:
                raise BadQuery(f"{name} is a {layer['type']} layer: only {', '.join(EXPLAINED)} values are explained")
            return layer, layers[i - 1]["name"] if i else None
    raise BadQuery(f"{spec['name']} has no layer named {name!r}")


def explain(run: ServedRun, raw: np.ndarray, layer_name: str, channel: int, row: int, col: int) -> dict:
    """How the value at (``channel``, ``row``, ``col``) of a conv or pool layer's output comes about.

    The input window of the channels that take part (padding positions are None: zeros for convolutions
    and average pooling, never the maximum of a max-pool), the kernel and bias for a convolution, the
    value computed from them in float64 with the walkthrough's NumPy code, and the engine's own value,
    which it must match.
    """
    layer, source = _layer_and_input(run.spec, layer_name)
    x = run.inputs(raw)
    wanted = [layer_name] if source is None else [source, layer_name]
    with run.lock:
        acts = run.engine.activations(x, wanted)
    inputs = x[0] if source is None else acts[source][0]
    output = acts[layer_name][0]
    c, h, w = output.shape
    if not (0 <= channel < c and 0 <= row < h and 0 <= col < w):
        raise BadQuery(f"{layer_name} has output {c}x{h}x{w}: channel, row, col {channel}, {row}, {col} lie outside")
    k = int(layer["kernel_size"] if "kernel_size" in layer else layer["size"])
    s, p = int(layer["stride"]), padding_amount(layer)
    kind = layer["type"]
    padded = np.pad(inputs.astype(np.float64), ((0, 0), (p, p), (p, p)), constant_values=np.nan)
    window = padded[:, row * s : row * s + k, col * s : col * s + k]
    if kind != "conv2d":  # depthwise convolution and pooling: one output channel reads one input channel
        window = window[channel : channel + 1]
    found = {
        "layer": layer_name,
        "type": kind,
        "input": source or "image",
        "channel": channel,
        "row": row,
        "col": col,
        "kernel_size": k,
        "stride": s,
        "padding": p,
        "origin": [row * s - p, col * s - p],  # the window's top-left corner in the input (negative: padding)
        "engine_value": float(output[channel, row, col]),
    }
    if kind == "maxpool2d":
        value = float(max_pool2d(np.where(np.isnan(window), -np.inf, window)[0], k, k)[0, 0])
        found["input_channels"] = [channel]
    else:
        window = np.nan_to_num(window, nan=0.0)  # zero padding for convolutions and PyTorch-style avg-pooling
        if kind == "avgpool2d":
            value = float(window.mean())
            found["input_channels"] = [channel]
        else:
            weights = run.weights()
            kernel = weights[f"{layer_name}.weight"][channel].astype(np.float64)
            bias = float(weights[f"{layer_name}.bias"][channel]) if f"{layer_name}.bias" in weights else 0.0
            value = float(conv2d(window, kernel)[0, 0]) + bias
            found.update(
                {
                    "kernel": _numbers(kernel),
                    "bias": bias,
                    "channel_sums": _numbers((kernel * window).sum(axis=(1, 2))),
                    "input_channels": [channel] if kind == "depthwiseconv2d" else list(range(window.shape[0])),
                }
            )
    shown_window = padded[:, row * s : row * s + k, col * s : col * s + k][found["input_channels"]]
    found["window"] = [[[None if np.isnan(v) else round(v, DIGITS) for v in r] for r in ch] for ch in shown_window]
    found["value"] = value
    return found
