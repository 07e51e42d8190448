"""`imgbench predict` writing files: Kaggle's submission, the full table as CSV or JSON, and exported models."""

from __future__ import annotations

import csv
import json
import re
import sys

import numpy as np
import pytest
from PIL import Image

from imgbench.data import Normalizer, load_dataset
from imgbench.data.formats.csvfile import write_csv
from imgbench.errors import ImgbenchError
from imgbench.export import export_run
from imgbench.runs.predict import predict_csv, predict_images
from imgbench.runs.runner import open_run, train_run
from imgbench.settings import RunSettings

from .test_cli_data import assert_clean_error, run_cli

TEST_ROWS = 37  # rows of the unlabelled test.csv: not a multiple of any batch size


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory):
    """A Digit Recognizer folder made of the 8x8 digits (train.csv labelled, test.csv not) and a run trained on it."""
    folder = tmp_path_factory.mktemp("digit-recognizer")
    ds = load_dataset("digits")
    write_csv(folder / "train.csv", ds.X_train, ds.y_train)
    write_csv(folder / "test.csv", ds.X_test[:TEST_ROWS])
    settings = RunSettings(
        dataset=f"csv:{folder}",
        model="cnn-tiny",
        engine="numpy",
        runs_dir=str(tmp_path_factory.mktemp("runs")),
        name="kaggle",
        quiet=True,
        train={"epochs": 1, "max_steps": 8},
    )
    with pytest.warns(UserWarning, match="has no 'label' column"):
        run = train_run(settings)
    return run, folder / "test.csv", ds.X_test[:TEST_ROWS]


@pytest.fixture(scope="module")
def photos(tmp_path_factory, kaggle):
    """A folder of PNGs (two of them in a subfolder) made from digits test images."""
    _, _, X = kaggle
    folder = tmp_path_factory.mktemp("photos")
    (folder / "more").mkdir()
    for i in range(5):
        path = folder / ("more" if i >= 3 else "") / f"{i}.png"
        Image.fromarray((X[i, 0] * 16).astype(np.uint8)).resize((32, 32)).save(path)
    return folder


@pytest.fixture(scope="module")
def onnx_file(kaggle):
    run, _, _ = kaggle
    with pytest.warns(UserWarning, match="has no 'label' column"):  # the export is checked on the run's test split
        export_run(run, "onnx")
    return run / "export" / "model.onnx"


def engine_labels(run, X) -> list[int]:
    """The run's own top-1 class indices for uint8 images, straight from its engine."""
    _, engine, pre = open_run(run)
    return engine.predict_logits(Normalizer.from_dict(pre)(X)).argmax(axis=1).tolist()


def test_submission_for_an_unlabelled_kaggle_test_csv(kaggle, tmp_path):
    run, test_csv, X = kaggle
    out = tmp_path / "submission.csv"
    proc = run_cli("predict", run, "--csv", test_csv, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{out}: {TEST_ROWS} predictions (submission)"
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["ImageId", "Label"]
    assert len(rows) == TEST_ROWS + 1
    ids, labels = [int(r[0]) for r in rows[1:]], [int(r[1]) for r in rows[1:]]
    assert ids == list(range(1, TEST_ROWS + 1))
    assert all(0 <= label < 10 for label in labels)
    assert labels == engine_labels(run, X)
    assert out.read_bytes().count(b"\r") == 0  # Kaggle's own files: LF line ends
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file, renamed into place


def test_a_folder_as_a_csv_table_and_as_json(kaggle, photos, tmp_path):
    run, _, _ = kaggle
    table, listing = tmp_path / "predictions.csv", tmp_path / "predictions.json"
    for out, kind in ((table, "table"), (listing, "json")):
        proc = run_cli("predict", run, photos, "--top-k", "2", "--out", out)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"{out}: 5 predictions ({kind})"
    results = json.loads(listing.read_text())
    expected = predict_images(run, [photos], top_k=2)
    assert [r["path"] for r in results] == [str(p) for p in sorted(photos.rglob("*.png"))]
    assert results == json.loads(json.dumps(expected))
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["file", "label", "class_index", "probability", "label_2", "probability_2", "error"]
    assert [r["file"] for r in rows] == [r["path"] for r in results]
    assert [r["label"] for r in rows] == [r["label"] for r in results]
    assert [int(r["class_index"]) for r in rows] == [r["class_index"] for r in results]
    assert [r["label_2"] for r in rows] == [r["top_k"][1]["label"] for r in results]
    assert all(
        float(r["probability"]) == pytest.approx(e["probability"], rel=1e-5) for r, e in zip(rows, results, strict=True)
    )


def test_unreadable_images_are_rows_with_their_error(kaggle, photos, tmp_path):
    run, _, _ = kaggle
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a PNG")
    out = tmp_path / "p.csv"
    proc = run_cli("predict", run, photos / "0.png", broken, "--out", out)
    assert_clean_error(proc, "1 of 2 images could not be read", str(broken))
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["error"] == "" and rows[0]["label"]
    assert rows[1]["file"] == str(broken) and "not a readable image" in rows[1]["error"] and rows[1]["label"] == ""


def test_bad_output_and_input_are_one_clean_error(kaggle, tmp_path):
    run, test_csv, _ = kaggle
    out = tmp_path / "submission.txt"
    proc = run_cli("predict", run, "--csv", test_csv, "--out", out)
    assert_clean_error(proc, str(out), "expected a predictions file ending in .csv or .json, found '.txt'")
    assert not out.exists()
    big = tmp_path / "mnist_test.csv"
    write_csv(big, np.zeros((3, 1, 28, 28), np.uint8), [0, 1, 2])
    with pytest.raises(ImgbenchError, match=r"mnist_test.csv: expected images of 1x8x8 .* found 1x28x28 \(784 pixel"):
        predict_csv(run, big)
    with pytest.raises(
        ImgbenchError, match=f"{re.escape(str(tmp_path))}: expected a Kaggle CSV file of images, found a folder"
    ):
        predict_csv(run, tmp_path)
    with pytest.raises(ImgbenchError, match="expected a run directory or an .onnx or .tflite file"):
        predict_csv(run / "config.yaml", test_csv)
    proc = run_cli("predict", run)
    assert_clean_error(proc, "give image files or folders, or --csv FILE (one of them)")


def test_an_exported_onnx_file_predicts_as_its_run(kaggle, photos, onnx_file, tmp_path):
    run, test_csv, _ = kaggle
    on_run = predict_csv(run, test_csv)
    on_file = predict_csv(onnx_file, test_csv)
    assert [r["class_index"] for r in on_file] == [r["class_index"] for r in on_run]
    assert [r["probability"] for r in on_file] == pytest.approx([r["probability"] for r in on_run], abs=1e-4)
    proc = run_cli("predict", onnx_file, photos, "--json")
    assert proc.returncode == 0, proc.stderr
    assert [r["label"] for r in json.loads(proc.stdout)] == [r["label"] for r in predict_images(run, [photos])]


def test_an_onnx_file_without_its_preprocessing_is_a_clear_error(onnx_file, tmp_path):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(onnx_file))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    with pytest.raises(ImgbenchError, match=r"bare.onnx: expected its preprocessing and class names in .*export.json"):
        predict_images(bare, [onnx_file])


def test_a_missing_runtime_names_the_extra(onnx_file, photos, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(ImgbenchError, match=r"needs onnxruntime: pip install 'imgbench\[export\]'"):
        predict_images(onnx_file, [photos])


@pytest.mark.slow
def test_an_exported_litert_file_predicts_as_its_run(kaggle, photos, tmp_path):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("keras")
    run, test_csv, _ = kaggle
    path = tmp_path / "model.tflite"
    with pytest.warns(UserWarning, match="has no 'label' column"):
        export_run(run, "litert", out=path)
    assert [r["class_index"] for r in predict_csv(path, test_csv)] == [
        r["class_index"] for r in predict_csv(run, test_csv)
    ]
    assert [r["label"] for r in predict_images(path, [photos])] == [r["label"] for r in predict_images(run, [photos])]
    (tmp_path / "export.json").unlink()
    with pytest.raises(ImgbenchError, match="keep export.json with the file"):
        predict_csv(path, test_csv)
