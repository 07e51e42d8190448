"""`imgbench serve`'s JSON API through FastAPI's TestClient, on small digits runs: every endpoint gives what the
engine and `imgbench predict` give, and every bad request gets its status and a JSON error, after which the
server still answers."""

from __future__ import annotations

import base64
import io
import os
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from imgbench.data import Normalizer, load_dataset
from imgbench.data.images import image_to_input
from imgbench.runs.predict import predict_images
from imgbench.runs.runner import open_run

from .test_cli_data import assert_clean_error, run_cli

pytest.importorskip("fastapi")
pytest.importorskip("httpx2", reason="FastAPI's TestClient needs httpx2 here")

from fastapi.testclient import TestClient  # noqa: E402  (after the skips: FastAPI is an optional extra)

from imgbench.serve import api  # noqa: E402
from imgbench.serve.app import create_app, is_loopback  # noqa: E402
from imgbench.serve.paths import RunCatalog  # noqa: E402
from imgbench.serve.uploads import UploadLimits  # noqa: E402

LAYERS = ["conv1", "pool1", "conv2", "pool2", "dense1", "dense2"]  # cnn-tiny's shown layers
LIMIT = 200_000  # bytes: a small cap keeps the oversized uploads of these tests small


def png_bytes(a: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, fmt)
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header announces width x height grey pixels, with one tiny compressed row: a decompression bomb's
    shape (a real one's IDAT would expand to the full size)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def digits_runs_and_a_study(root, cnn_epochs: int, mlp_epochs: int):
    """``root/runs`` with two digits runs, ``cnn`` (cnn-tiny) and ``mlp`` (mlp-small), NumPy engine; and
    ``root/studies/small`` with a report.  Returns both folders."""
    runs = root / "runs"
    for model, name, epochs in (("cnn-tiny", "cnn", cnn_epochs), ("mlp-small", "mlp", mlp_epochs)):
        proc = run_cli(
            "train", "--dataset", "digits", "--model", model, "--epochs", epochs, "--runs-dir", runs, "--name", name
        )
        assert proc.returncode == 0, proc.stderr
    studies = root / "studies"
    (studies / "small").mkdir(parents=True)
    (studies / "small" / "report.html").write_text("<html><body><h1>small study</h1></body></html>")
    (studies / "small" / "report.md").write_text("# small study\n")
    return runs, studies


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The two digits runs and the study, a run and a report outside their folders, and the app over them."""
    root = tmp_path_factory.mktemp("serve")
    runs, studies = digits_runs_and_a_study(root, 8, 2)
    outside = root / "outside"
    outside.mkdir()
    (outside / "report.html").write_text("secret")
    (studies / "escaped").symlink_to(outside, target_is_directory=True)
    # A finished run outside the runs folder, reachable only through a symlink inside it.
    proc = run_cli("train", "--dataset", "digits", "--model", "mlp-small", "--epochs", "1", "--runs-dir", outside)
    assert proc.returncode == 0, proc.stderr
    (runs / "escaped").symlink_to(next(p for p in outside.iterdir() if p.is_dir()), target_is_directory=True)
    app = create_app(RunCatalog(runs_dir=runs), studies, UploadLimits(max_bytes=LIMIT), timeout=5)
    ds = load_dataset("digits")
    with TestClient(app) as client:
        yield client, runs, ds


def post(client, path: str, data: bytes, name: str = "digit.png", ctype: str = "image/png"):
    return client.post(path, files={"image": (name, data, ctype)})


def test_lists_runs_with_their_dataset_model_engine_and_accuracy(served):
    client, runs, _ = served
    r = client.get("/api/runs")
    assert r.status_code == 200
    rows = {row["name"]: row for row in r.json()}
    assert sorted(rows) == ["cnn", "mlp"]  # the symlink out of the folder is not listed
    assert rows["cnn"]["model"] == "cnn-tiny" and rows["mlp"]["model"] == "mlp-small"
    for row in rows.values():
        assert row["dataset"] == "digits" and row["engine"] == "numpy" and row["status"] == "finished"
        assert 0.5 < row["accuracy"] <= 1


def test_run_detail_and_metrics_are_the_run_directory(served):
    client, runs, _ = served
    detail = client.get("/api/runs/cnn").json()
    assert detail["image_shape"] == [1, 8, 8] and detail["class_names"] == [str(i) for i in range(10)]
    assert [l["name"] for l in detail["shown_layers"]] == LAYERS
    assert [r["epoch"] for r in detail["history"]] == list(range(1, 9))
    metrics = client.get("/api/runs/cnn/metrics").json()
    on_disk = __import__("json").loads((runs / "cnn" / "metrics.json").read_text())
    assert metrics["accuracy"] == on_disk["accuracy"] and len(metrics["confusion_matrix"]) == 10


def test_predict_gives_what_imgbench_predict_gives(served, tmp_path):
    client, runs, ds = served
    path = tmp_path / "digit.png"
    path.write_bytes(png_bytes(ds.X_test[3, 0]))
    r = post(client, "/api/runs/cnn/predict?top_k=4&saliency=true&view=true", path.read_bytes())
    assert r.status_code == 200, r.text
    got = r.json()
    expected = predict_images(runs / "cnn", [path], top_k=4)[0]
    assert got["label"] == expected["label"] and [e["label"] for e in got["top_k"]] == [
        e["label"] for e in expected["top_k"]
    ]
    assert got["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-6)
    pre = open_run(runs / "cnn")[2]
    view = image_to_input(path, pre["image_shape"], pre["style"], pre["dark_background"])
    assert np.array_equal(np.array(got["input"]), view)
    saliency = np.array(got["saliency"])
    assert saliency.shape == (8, 8) and saliency.max() == pytest.approx(1.0) and saliency.min() >= 0


def test_predict_through_onnx_runtime_on_the_runs_export(served, tmp_path):
    """runtime=onnx: 404 naming the export command until the run is exported, then ONNX Runtime's answer, the
    engine's to float32 precision; an export older than the weights served is refused, not silently used."""
    pytest.importorskip("onnxruntime")
    client, runs, ds = served
    data = png_bytes(ds.X_test[11, 0])
    export = runs / "cnn" / "export" / "model.onnx"
    if not export.exists():  # the first time in this module
        missing = post(client, "/api/runs/cnn/predict?runtime=onnx", data)
        assert missing.status_code == 404 and "imgbench export" in missing.json()["error"], missing.text
        proc = run_cli("export", runs / "cnn", "--format", "onnx")
        assert proc.returncode == 0, proc.stderr
    onnx = post(client, "/api/runs/cnn/predict?runtime=onnx&top_k=3&saliency=true", data)
    engine = post(client, "/api/runs/cnn/predict?top_k=3&saliency=true", data).json()
    assert onnx.status_code == 200, onnx.text
    got = onnx.json()
    assert got["runtime"] == "onnx" and engine["runtime"] == "engine"
    assert got["label"] == engine["label"] and got["probabilities"] == pytest.approx(engine["probabilities"], abs=1e-5)
    assert got["saliency"] == engine["saliency"]  # gradients come from the engine either way
    weights = runs / "cnn" / "weights" / "best.npz"
    before = weights.stat()
    try:
        os.utime(weights, ns=(before.st_atime_ns, export.stat().st_mtime_ns + 10**9))  # trained on after the export
        stale = post(client, "/api/runs/cnn/predict?runtime=onnx", data)
        assert stale.status_code == 422 and "older than the weights" in stale.json()["error"], stale.text
    finally:
        os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert post(client, "/api/runs/cnn/predict?runtime=onnx", data).status_code == 200
    bad = post(client, "/api/runs/cnn/predict?runtime=tflite", data)
    assert bad.status_code == 422 and "runtime" in bad.json()["error"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF"])
def test_predict_decodes_png_jpeg_webp_bmp_and_gif(served, fmt):
    client, _, ds = served
    big = np.asarray(Image.fromarray(ds.X_test[0, 0]).resize((64, 64), Image.Resampling.NEAREST))
    r = post(client, "/api/runs/mlp/predict", png_bytes(big, fmt), f"digit.{fmt.lower()}", f"image/{fmt.lower()}")
    assert r.status_code == 200, r.text
    assert r.json()["label"] in [str(i) for i in range(10)]


def test_activations_are_the_engines_and_the_same_in_both_encodings(served):
    client, runs, ds = served
    data = png_bytes(ds.X_test[5, 0])
    listed = post(client, "/api/runs/cnn/activations", data).json()
    packed = post(client, "/api/runs/cnn/activations?encoding=base64", data).json()
    assert [l["name"] for l in listed] == LAYERS
    assert [l["kind"] for l in listed] == ["maps"] * 4 + ["vector"] * 2
    _, engine, pre = open_run(runs / "cnn")
    x = Normalizer.from_dict(pre)(ds.X_test[5:6])
    acts = engine.activations(x, LAYERS)
    for lst, pkd in zip(listed, packed, strict=True):
        expected = acts[lst["name"]][0]
        assert list(expected.shape) == lst["shape"]
        np.testing.assert_allclose(np.array(lst["values"]), expected, atol=1e-5)
        decoded = np.frombuffer(base64.b64decode(pkd["values"]), "<f4").reshape(pkd["shape"])
        np.testing.assert_array_equal(decoded, expected)
        assert lst["min"] == pytest.approx(float(expected.min()))
    only = post(client, "/api/runs/cnn/activations?layers=pool2,dense2", data).json()
    assert [l["name"] for l in only] == ["pool2", "dense2"]


@pytest.mark.parametrize(
    "layer,channel,row,col",
    [("conv1", 0, 0, 0), ("conv1", 5, 3, 7), ("pool1", 2, 1, 3), ("conv2", 7, 2, 1), ("conv2", 31, 3, 3)],
)
def test_explain_recomputes_the_engines_value_from_window_kernel_and_bias(served, layer, channel, row, col):
    client, _, ds = served
    query = f"layer={layer}&channel={channel}&row={row}&col={col}"
    found = post(client, f"/api/runs/cnn/explain?{query}", png_bytes(ds.X_test[7, 0])).json()
    assert found["value"] == pytest.approx(found["engine_value"], abs=1e-4)
    window = np.array(found["window"], dtype=float)  # None (padding) -> nan
    k = found["kernel_size"]
    assert window.shape == (len(found["input_channels"]), k, k)
    padded = np.isnan(window)
    if row == 0 and col == 0 and found["padding"]:  # 'same' padding: the corner window hangs over the edge
        assert padded[:, 0, :].all() and padded[:, :, 0].all() and found["origin"] == [-1, -1]
    if found["type"] == "conv2d":
        kernel = np.array(found["kernel"])
        assert kernel.shape == (16 if layer == "conv2" else 1, k, k)
        recomputed = (kernel * np.nan_to_num(window)).sum() + found["bias"]
        assert recomputed == pytest.approx(found["value"], abs=1e-3)  # from the rounded numbers sent
    else:
        assert found["input_channels"] == [channel] and np.nanmax(window) == pytest.approx(found["value"], abs=1e-4)


@pytest.mark.parametrize(
    "query,needle",
    [
        ("layer=dense1&channel=0&row=0&col=0", "only conv2d"),
        ("layer=nope&channel=0&row=0&col=0", "no layer named"),
        ("layer=conv1&channel=16&row=0&col=0", "lie outside"),
        ("layer=conv1&channel=0&row=-1&col=0", "row"),
    ],
)
def test_explain_refuses_what_it_cannot_explain(served, query, needle):
    client, _, ds = served
    r = post(client, f"/api/runs/cnn/explain?{query}", png_bytes(ds.X_test[0, 0]))
    assert r.status_code == 422 and needle in r.json()["error"], r.text


def test_oversized_uploads_get_413_announced_or_streamed(served):
    client, _, _ = served
    r = post(client, "/api/runs/cnn/predict", b"\0" * (LIMIT + 1))
    assert r.status_code == 413 and f"{LIMIT:,}-byte limit" in r.json()["error"]

    def chunks():  # no Content-Length: the cap is met while the body streams in
        for _ in range(50):
            yield b"x" * 10_000

    headers = {"content-type": "multipart/form-data; boundary=b"}
    r = client.post("/api/runs/cnn/predict", content=chunks(), headers=headers)
    assert r.status_code == 413 and "limit" in r.json()["error"]


@pytest.mark.parametrize(
    "data,name,status,needle",
    [
        (b"plain text, not an image", "notes.txt", 415, "not a PNG, JPEG, WebP, BMP or GIF"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "x.svg", 415, "not a PNG"),
        ("tiff", "x.tiff", 415, "not a PNG"),
        (b"", "empty.png", 422, "empty"),
        ("truncated", "cut.png", 422, ""),
        ("bomb", "bomb.png", 413, "decompression bomb"),
        ("huge-bomb", "huge.png", 413, "too many pixels"),
    ],
)
def test_bad_images_get_a_clear_json_error(served, data, name, status, needle):
    client, _, ds = served
    if data == "tiff":
        data = png_bytes(ds.X_test[0, 0], "TIFF")
    elif data == "truncated":
        data = png_bytes(np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8) * 7)[:-40]
    elif data == "bomb":
        data = png_header(6000, 6000)  # 36 million pixels: over the 25 million decoded
    elif data == "huge-bomb":
        data = png_header(100_000, 100_000)  # so many that Pillow itself refuses
    r = post(client, "/api/runs/cnn/predict", data, name)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]


def test_a_blank_page_is_an_input_for_runs_that_fit_the_whole_picture(served):
    client, _, _ = served
    r = post(client, "/api/runs/cnn/predict", png_bytes(np.full((50, 50), 255, np.uint8)))
    assert r.status_code == 200  # digits runs fit the whole picture: a blank page is a (dull) input


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/..%2F..%2Fetc/metrics",
        "/api/runs/%2E%2E/metrics",
        "/api/runs/..",
        "/api/runs/%2Fetc%2Fpasswd",
        "/api/runs/escaped",
        "/api/runs/escaped/metrics",
        "/api/runs/nope",
        "/api/runs/nope/metrics",
        "/studies/..%2Foutside%2Freport.html",
        "/studies/%2Fetc%2Fpasswd",
        "/studies/escaped/report.html",
        "/studies/small/missing.html",
    ],
)
def test_paths_outside_their_folders_are_404(served, path):
    client, _, _ = served
    r = client.get(path)
    assert r.status_code == 404, (path, r.text)
    assert "secret" not in r.text and "root:" not in r.text


def test_predicting_with_an_unknown_or_escaped_run_is_404(served):
    client, _, ds = served
    for name in ("nope", "escaped", "%2E%2E"):  # (a plain .. would be resolved by the client itself)
        r = post(client, f"/api/runs/{name}/predict", png_bytes(ds.X_test[0, 0]))
        assert r.status_code == 404 and "no run named" in r.json()["error"], r.text


def test_study_reports_are_listed_and_served_sandboxed(served):
    client, _, _ = served
    assert client.get("/api/studies").json() == [{"name": "small", "files": ["small/report.html", "small/report.md"]}]
    r = client.get("/studies/small/report.html")
    assert r.status_code == 200 and "small study" in r.text
    assert r.headers["content-security-policy"].startswith("sandbox")


def test_a_request_over_its_time_limit_gets_503_and_the_server_goes_on(served, monkeypatch):
    client, _, ds = served

    def slow(run, raw, *args):
        time.sleep(8)  # longer than the app's 5 s limit

    monkeypatch.setattr(api, "prediction", slow)
    t = time.perf_counter()
    r = post(client, "/api/runs/mlp/predict", png_bytes(ds.X_test[0, 0]))
    assert r.status_code == 503 and "limit 5 s" in r.json()["error"]
    assert time.perf_counter() - t < 7.5
    monkeypatch.undo()
    assert client.get("/api/runs").status_code == 200


def test_the_api_is_documented_offline(served):
    client, _, _ = served
    spec = client.get("/openapi.json").json()
    for path in ("/api/runs", "/api/runs/{name}", "/api/runs/{name}/metrics", "/api/runs/{name}/predict"):
        assert path in spec["paths"]
    assert "/api/runs/{name}/activations" in spec["paths"] and "/api/runs/{name}/explain" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text
    assert client.get("/redoc").status_code == 404
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    for name in ("index.html", "docs.html", "app.js", "pad.js", "inside.js", "results.js", "docs.js", "style.css"):
        text = client.get(f"/static/{name}").text
        for loader in ('src="http', "src='http", 'href="http', "url(http", "@import", "//cdn", "fonts.googleapis"):
            assert loader not in text, (name, loader)


def test_the_server_still_answers_after_every_bad_request(served):
    client, _, ds = served
    assert client.get("/api/runs").status_code == 200
    r = post(client, "/api/runs/cnn/predict", png_bytes(ds.X_test[0, 0]))
    assert r.status_code == 200 and r.json()["run"] == "cnn"


def test_only_loopback_addresses_count_as_local():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


def test_serve_warns_when_bound_beyond_this_machine(served, monkeypatch, capsys):
    import uvicorn

    from imgbench.cli import main

    _, runs, _ = served
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    assert main(["serve", str(runs / "cnn"), str(runs / "mlp"), "--host", "0.0.0.0", "--port", "8123"]) == 0
    err = capsys.readouterr().err
    assert "imgbench: warning: serving on 0.0.0.0" in err
    assert calls[0]["host"] == "0.0.0.0" and calls[0]["port"] == 8123
    assert main(["serve", "--runs-dir", str(runs)]) == 0
    assert "warning" not in capsys.readouterr().err and calls[1]["host"] == "127.0.0.1"


def test_serve_refuses_a_missing_runs_folder_or_both_kinds_of_argument(served, tmp_path):
    _, runs, _ = served
    assert_clean_error(run_cli("serve", "--runs-dir", tmp_path / "none"), "no such runs directory")
    assert_clean_error(run_cli("serve", runs / "cnn", "--runs-dir", runs), "not both")
    assert_clean_error(run_cli("serve", tmp_path), "not a run directory")
