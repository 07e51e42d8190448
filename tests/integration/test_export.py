"""`imgbench export`: ONNX and LiteRT files of every engine, checked against the engine's own logits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imgbench.data import Normalizer
from imgbench.errors import ImgbenchError
from imgbench.export import export_run, verify
from imgbench.fileio import read_json
from imgbench.runs.runner import open_run, split_images, train_run
from imgbench.settings import RunSettings

from .test_cli_data import assert_clean_error, run_cli

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``trained(engine, model)``: a run of a few steps on digits, trained once per module."""
    runs = tmp_path_factory.mktemp("runs")
    made: dict = {}

    def make(engine: str, model: str = "cnn-tiny"):
        if engine != "numpy":
            pytest.importorskip(engine)
        if (engine, model) not in made:
            settings = RunSettings(
                dataset="digits",
                model=model,
                engine=engine,
                runs_dir=str(runs),
                name=f"{model}-{engine}",
                quiet=True,
                train={"epochs": 1, "max_steps": 5},
            )
            made[engine, model] = train_run(settings)
        return made[engine, model]

    return make


def assert_parity(entry: dict) -> None:
    check = entry["check"]
    assert check["images"] == 256
    assert check["max_abs_diff"] <= 1e-4 * check["largest_logit"]
    assert check["top1_agreement"] == 1.0
    assert check["accuracy"] == check["engine_accuracy"]
    assert check["passed"] and check["tolerance"] == verify.TOLERANCE


def recomputed_diff(run, path) -> float:
    """The file run again by its runtime against the engine: the figure export.json records, independently."""
    settings, engine, pre = open_run(run)
    _, X, _ = split_images(run, settings, "test")
    X = Normalizer.from_dict(pre)(X[:256])
    runtime = verify.onnx_logits if path.suffix == ".onnx" else verify.litert_logits
    return float(np.abs(runtime(path, X) - engine.predict_logits(X)).max())


@pytest.mark.parametrize(
    ("engine", "model"), [("numpy", "cnn-tiny"), ("torch", "cnn-tiny"), ("numpy", "mlp-small"), ("numpy", "vit-tiny")]
)
def test_onnx_export_matches_the_engine(trained, engine, model):
    run = trained(engine, model)
    entry = export_run(run, "onnx")
    path = run / "export" / "model.onnx"
    assert path.exists()
    assert_parity(entry)
    assert entry["path"].startswith("torch.onnx.export" if engine == "torch" else "imgbench.export.onnx_graph")
    assert recomputed_diff(run, path) == pytest.approx(entry["check"]["max_abs_diff"], abs=1e-6)
    assert read_json(run / "export" / "export.json")["model.onnx"] == json.loads(json.dumps(entry))


def test_onnx_file_carries_its_preprocessing_and_takes_any_batch(trained):
    import onnx
    import onnxruntime as ort

    run = trained("numpy")
    export_run(run, "onnx")
    path = run / "export" / "model.onnx"
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    pre = read_json(run / "preprocess.json")
    assert meta["imgbench.input_layout"] == "NCHW"
    assert json.loads(meta["imgbench.input_shape"]) == ["batch", 1, 8, 8]
    assert json.loads(meta["imgbench.class_names"]) == pre["class_names"]
    assert json.loads(meta["imgbench.mean"]) == pre["mean"] and json.loads(meta["imgbench.std"]) == pre["std"]
    assert json.loads(meta["imgbench.preprocess"]) == pre
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 7):
        assert session.run(None, {"input": np.zeros((batch, 1, 8, 8), np.float32)})[0].shape == (batch, 10)


def test_quantised_exports_record_their_accuracy_beside_the_float_model(trained):
    run = trained("numpy")
    sizes = {}
    for quantize in ("float16", "int8"):
        entry = export_run(run, "onnx", quantize=quantize)
        check = entry["check"]
        assert 0.0 <= check["accuracy"] <= 1.0 and 0.0 <= check["engine_accuracy"] <= 1.0
        assert check["top1_agreement"] >= 0.9  # a few steps of training: small margins, still mostly the same
        assert "passed" not in check  # no parity demanded of a quantised file
        sizes[quantize] = entry["bytes"]
    float_size = export_run(run, "onnx")["bytes"]
    assert sizes["int8"] < sizes["float16"] < float_size
    recorded = read_json(run / "export" / "export.json")
    assert {"model.onnx", "model-float16.onnx", "model-int8.onnx"} <= set(recorded)


def test_a_failing_check_is_an_error_and_leaves_no_file(trained, monkeypatch, tmp_path):
    run = trained("numpy")
    monkeypatch.setattr(verify, "TOLERANCE", 0.0)
    target = tmp_path / "out" / "strict.onnx"
    with pytest.raises(ImgbenchError, match="failed its check and was not kept"):
        export_run(run, "onnx", out=target)
    assert list(target.parent.iterdir()) == []


def test_a_layer_type_without_a_builder_is_one_clear_error(trained, tmp_path, monkeypatch):
    from imgbench.export import onnx_graph

    run = trained("numpy", "vit-tiny")
    monkeypatch.delitem(onnx_graph.BUILDERS, "patchembed")  # every registered type has a builder now
    with pytest.raises(ImgbenchError, match="layer type 'patchembed' cannot be exported to ONNX"):
        export_run(run, "onnx", out=tmp_path / "vit.onnx")
    assert not (tmp_path / "vit.onnx").exists()


def test_cli_export_and_its_errors(trained, tmp_path):
    run = trained("numpy")
    out = tmp_path / "digits.onnx"
    proc = run_cli("export", run, "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["file"] == "digits.onnx" and out.exists()
    assert_clean_error(run_cli("export", run, "--format", "litert", "--out", out), "must end in '.tflite'")
    assert_clean_error(run_cli("export", run, "--quantize", "int4"), "--quantize", "int8")


# --- every engine x format (slow: TensorFlow starts, the LiteRT converter runs) --------------------


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["numpy", "torch", "keras"])
@pytest.mark.parametrize("fmt", ["onnx", "litert"])
def test_every_engine_exports_to_every_format(trained, engine, fmt):
    pytest.importorskip("keras" if fmt == "litert" else "onnx")
    if fmt == "litert":
        pytest.importorskip("ai_edge_litert")
    run = trained(engine)
    entry = export_run(run, fmt, out=run / "all" / f"model.{'onnx' if fmt == 'onnx' else 'tflite'}")
    assert_parity(entry)
    assert entry["input_layout"] == ("NCHW" if fmt == "onnx" else "NHWC")
    assert recomputed_diff(run, run / "all" / entry["file"]) == pytest.approx(entry["check"]["max_abs_diff"], abs=1e-6)
    for quantize in ("float16", "int8"):
        check = export_run(
            run, fmt, out=run / "all" / f"q-{quantize}{'.onnx' if fmt == 'onnx' else '.tflite'}", quantize=quantize
        )["check"]
        assert check["top1_agreement"] >= 0.9


def test_token_layers_export_in_both_pooling_modes(tmp_path):
    """Every token layer (standalone mha too) and mean pooling, through the graph builder, on random weights."""
    import onnxruntime as ort

    from imgbench.engines import create_engine
    from imgbench.export.onnx_graph import build_model
    from imgbench.specs.spec import resolve

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 3, 8, 8)).astype(np.float32)
    for mode in ("class", "mean"):
        layers = [
            {"type": "patchembed", "patch_size": 2, "dim": 16},
            {"type": "classtoken"},
            {"type": "posembed"},
            {"type": "mha", "heads": 2},
            {"type": "transformer", "heads": 4, "mlp_ratio": 2},
            {"type": "layernorm"},
            {"type": "gelu"},
            {"type": "tokenpool", "mode": mode},
            {"type": "dense", "units": "num_classes"},
        ]
        spec = resolve({"name": f"vit-{mode}", "input_shape": [3, 8, 8], "num_classes": 10, "layers": layers})
        engine = create_engine("numpy", spec)
        # away from the initial values (zero biases, near-zero tokens) so that every term counts
        engine.load_state_dict(
            {k: v + rng.normal(0, 0.1, v.shape).astype(np.float32) for k, v in engine.state_dict().items()}
        )
        session = ort.InferenceSession(
            build_model(spec, engine.state_dict()).SerializeToString(), providers=["CPUExecutionProvider"]
        )
        exported, reference = session.run(None, {"input": X})[0], engine.predict_logits(X)
        assert np.abs(exported - reference).max() <= 1e-5 * np.abs(reference).max()


@pytest.mark.slow
def test_keras_vit_exports_to_onnx(trained):
    run = trained("keras", "vit-tiny")
    entry = export_run(run, "onnx")
    assert_parity(entry)
    assert entry["path"].startswith("imgbench.export.onnx_graph")


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["numpy", "torch"])
@pytest.mark.parametrize("model", ["resnet-small", "mobilenet-small", "inception-small", "vgg-small"])
def test_zoo_models_export_to_onnx(trained, engine, model):
    run = trained(engine, model)
    assert_parity(export_run(run, "onnx", out=run / "zoo.onnx"))
