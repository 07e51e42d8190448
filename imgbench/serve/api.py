"""The JSON API: runs, their metrics, and predictions, layer outputs and explained values for an uploaded image.

Every route answers JSON; errors are ``{"error": message}`` with the status that fits (see app.py).
Work on an image (decoding, preprocessing, the engine) runs in a worker thread, so the event loop keeps
answering other requests, and the thread is given up when the request's time limit passes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Literal

import anyio
from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response

from ..fileio import read_json, read_yaml
from ..training.history import read_history
from .insight import explain, layer_outputs, prediction, shown_layers
from .models import RUNTIMES
from .paths import NotFound, study_reports
from .uploads import model_input

router = APIRouter(prefix="/api")

IMAGE = File(description="the image: PNG, JPEG, WebP, BMP or GIF (multipart/form-data field 'image')")


def _finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinity replaced by None (JSON has neither)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def json_response(obj: Any, status: int = 200) -> Response:
    """``obj`` as compact JSON (NaN and infinities as null)."""
    try:
        text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    except ValueError:  # rare (a metric that is NaN): only then walk the whole object
        text = json.dumps(_finite(obj), separators=(",", ":"))
    return Response(text, status_code=status, media_type="application/json")


async def _on_image(request: Request, name: str, image: UploadFile, work: Callable[..., Any], *args: Any) -> Response:
    """``work(run, raw, *args)`` for the served run ``name`` and the uploaded image, in a worker thread."""
    state = request.app.state.server
    data = await image.read()

    def job():
        run = state.models.get(name)
        return work(run, model_input(data, run.preprocess, state.limits), *args)

    return json_response(await anyio.to_thread.run_sync(job, abandon_on_cancel=True))


@router.get("/runs", summary="List the runs")
async def list_runs(request: Request) -> Response:
    """Every run served, with its dataset, model, engine, status and test accuracy (as 'imgbench runs list')."""
    catalog = request.app.state.server.catalog
    return json_response(await anyio.to_thread.run_sync(catalog.rows, abandon_on_cancel=True))


def _run_detail(catalog, name: str) -> dict:
    path = catalog.path(name)
    config = read_yaml(path / "config.yaml", "run config")
    spec = config.get("spec") or {}
    layers = spec.get("layers", [])
    preprocess = read_json(path / "preprocess.json") if (path / "preprocess.json").exists() else {}
    history = read_history(path / "history.csv") if (path / "history.csv").exists() else []
    return {
        "name": name,
        "dataset": preprocess.get("dataset", config.get("dataset")),
        "model": spec.get("name"),
        "engine": config.get("engine"),
        "finished": (path / "metrics.json").exists(),
        "image_shape": preprocess.get("image_shape"),
        "class_names": preprocess.get("class_names"),
        "preprocessing": preprocess.get("style"),
        "train": config.get("train"),
        "layers": [{"name": l["name"], "type": l["type"], "output_shape": l.get("output_shape")} for l in layers],
        "shown_layers": shown_layers(spec) if spec else [],
        "history": history,
    }


@router.get("/runs/{name}", summary="One run: model, preprocessing, learning curves")
async def run_detail(request: Request, name: str) -> Response:
    """The run's dataset, model layers (with output shapes), class names, preprocessing, training settings
    and its per-epoch history (history.csv rows: the learning curves)."""
    catalog = request.app.state.server.catalog
    return json_response(await anyio.to_thread.run_sync(_run_detail, catalog, name, abandon_on_cancel=True))


@router.get("/runs/{name}/metrics", summary="One run's test metrics")
async def run_metrics(request: Request, name: str) -> Response:
    """The run's metrics.json: accuracy, macro F1, log loss, per-class report, confusion matrix, timings."""
    path = request.app.state.server.catalog.path(name) / "metrics.json"
    if not path.exists():
        raise NotFound(f"run {name!r} has not finished: no metrics yet")
    return json_response(read_json(path))


@router.post("/runs/{name}/predict", summary="Predict the class of an image")
async def predict(
    request: Request,
    name: str,
    image: UploadFile = IMAGE,
    top_k: int = Query(3, ge=1, description="how many labels to list, most probable first"),
    saliency: bool = Query(False, description="add the saliency map |d logit / d pixel| of the top class"),
    view: bool = Query(False, description="add the image as the model sees it (uint8, channels x height x width)"),
    runtime: Literal[RUNTIMES] = Query(  # type: ignore[valid-type]
        "engine",
        description="what computes the prediction: the run's engine, or ONNX Runtime on the run's export "
        "(RUN/export/model.onnx, made by 'imgbench export RUN --format onnx'; 404 when there is none)",
    ),
) -> Response:
    """The top-k labels and every class's probability, after the same preprocessing as 'imgbench predict'."""

    def work(run, raw, top_k, saliency, view, runtime):
        result = prediction(run, raw, top_k, saliency, runtime)
        if view:
            result["input"] = raw.tolist()
        return result

    return await _on_image(request, name, image, work, top_k, saliency, view, runtime)


@router.post("/runs/{name}/activations", summary="Every layer's output for an image")
async def activations(
    request: Request,
    name: str,
    image: UploadFile = IMAGE,
    layers: str | None = Query(None, description="comma-separated layer names (default: every shown layer)"),
    encoding: Literal["list", "base64"] = Query(
        "list", description="values as nested lists, or as base64 of little-endian float32 in C order"
    ),
) -> Response:
    """Feature maps [C][H][W] of every conv and pool layer and the outputs [F] of the dense layers, with each
    layer's name, type, shape, minimum and maximum."""
    names = [n.strip() for n in layers.split(",") if n.strip()] if layers else None
    return await _on_image(request, name, image, layer_outputs, names, encoding)


@router.post("/runs/{name}/explain", summary="How one value of a conv or pool layer is computed")
async def explain_value(
    request: Request,
    name: str,
    image: UploadFile = IMAGE,
    layer: str = Query(..., description="a conv2d, depthwiseconv2d, maxpool2d or avgpool2d layer"),
    channel: int = Query(..., ge=0),
    row: int = Query(..., ge=0),
    col: int = Query(..., ge=0),
) -> Response:
    """The input window, kernel and bias behind the output value at (channel, row, col), the value computed
    from them, and the engine's value (the two agree to float32 precision)."""
    return await _on_image(request, name, image, explain, layer, channel, row, col)


@router.get("/studies", summary="List the study reports")
async def studies(request: Request) -> Response:
    """The study folders with a report, and the report files' paths under /studies/."""
    studies = request.app.state.server.studies
    return json_response(await anyio.to_thread.run_sync(study_reports, studies, abandon_on_cancel=True))
