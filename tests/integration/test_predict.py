"""`imgbench predict` on images saved the way a user has them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from imgbench.data import load_dataset
from imgbench.data.images import image_to_input, mnist_digit

from .test_cli_data import assert_clean_error, run_cli


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory, shared_datasets):
    shared = shared_datasets
    runs = tmp_path_factory.mktemp("runs")
    proc = run_cli(
        "train",
        "--dataset",
        "mnist",
        "--root",
        shared,
        "--model",
        "cnn-small",
        "--engine",
        "torch",
        "--epochs",
        "2",
        "--runs-dir",
        runs,
        "--name",
        "digits",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    return runs / "digits", load_dataset("mnist", root=shared)


def user_photo(digit: np.ndarray, rng, light_paper: bool, rgb: bool) -> Image.Image:
    """An MNIST digit upscaled, off-centre on a bigger canvas, maybe dark ink on light paper."""
    scale = int(rng.integers(6, 12))
    big = np.asarray(
        Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR), dtype=np.float64
    )
    h, w = int(rng.integers(350, 450)), int(rng.integers(350, 500))
    canvas = np.zeros((h, w))
    top, left = int(rng.integers(0, h - big.shape[0])), int(rng.integers(0, w - big.shape[1]))
    canvas[top : top + big.shape[0], left : left + big.shape[1]] = big
    noise = rng.normal(0, 4, canvas.shape)
    if light_paper:
        canvas = 235 - canvas * (200 / 255) + noise  # grey-white paper, dark pencil
    else:
        canvas = 15 + canvas * (230 / 255) + noise
    grey = np.clip(canvas, 0, 255).astype(np.uint8)
    if not rgb:
        return Image.fromarray(grey)
    tint = np.stack([grey, grey, np.clip(grey.astype(int) + 20, 0, 255)], axis=2).astype(np.uint8)
    return Image.fromarray(tint)


def test_predict_user_digits(tmp_path, mnist_run):
    run, ds = mnist_run
    rng = np.random.default_rng(7)
    idx = rng.choice(len(ds.X_test), 20, replace=False)
    paths, truth = [], []
    for n, i in enumerate(idx):
        im = user_photo(ds.X_test[i, 0], rng, light_paper=n % 2 == 0, rgb=n % 4 < 2)
        path = tmp_path / f"digit{n}.{'png' if n % 3 else 'jpg'}"
        im.save(path, quality=85) if path.suffix == ".jpg" else im.save(path)
        paths.append(path)
        truth.append(ds.class_names[ds.y_test[i]])
    proc = run_cli("predict", run, *paths, "--json", "--top-k", "3")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["path"] for r in results] == [str(p) for p in paths]
    assert all(len(r["top_k"]) == 3 and abs(sum(r["probabilities"].values()) - 1) < 1e-5 for r in results)
    correct = sum(r["label"] == t for r, t in zip(results, truth, strict=True))
    assert correct >= 19, [(r["label"], t) for r, t in zip(results, truth, strict=True)]
    text = run_cli("predict", run, paths[0])
    assert text.returncode == 0 and text.stdout.startswith(f"{paths[0]}: ")


def test_predict_rejects_non_images(tmp_path, mnist_run):
    run, _ = mnist_run
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    assert_clean_error(run_cli("predict", run, bad), str(bad), "not a readable image")
    assert_clean_error(run_cli("predict", run, tmp_path / "missing.jpg"), "no such image file")


def test_mnist_preprocessing_centres_by_mass_and_inverts():
    img = np.full((100, 60), 250, np.uint8)
    img[10:70, 5:20] = 10  # a dark bar on light paper, top-left
    out = mnist_digit(img)
    assert out.shape == (28, 28) and out.max() > 200 and out[0, 0] == 0
    yy, xx = np.indices(out.shape)
    cy, cx = (yy * out).sum() / out.sum(), (xx * out).sum() / out.sum()
    assert abs(cy - 13.5) < 1 and abs(cx - 13.5) < 1
    rows = np.flatnonzero(out.max(axis=1) > 50)
    assert 18 <= rows[-1] - rows[0] + 1 <= 21  # longer side fitted into 20 pixels


def test_fit_style_keeps_aspect_and_colour(tmp_path):
    im = np.zeros((40, 80, 3), np.uint8)
    im[:, :, 0] = 200
    Image.fromarray(im).save(tmp_path / "wide.png")
    x = image_to_input(tmp_path / "wide.png", (3, 32, 32), "fit")
    assert x.shape == (3, 32, 32) and x[0, 16, 16] == 200 and x[1, 16, 16] == 0


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A quick run on the embedded 8x8 digits (no downloaded data needed)."""
    runs = tmp_path_factory.mktemp("runs")
    proc = run_cli(
        "train", "--dataset", "digits", "--model", "mlp-small", "--epochs", "1", "--runs-dir", runs, "--name", "d"
    )
    assert proc.returncode == 0, proc.stderr
    return runs / "d", load_dataset("digits")


def test_predict_folders_recursively_and_reports_unreadable_images(tmp_path, digits_run):
    run, ds = digits_run
    photos = tmp_path / "photos"
    (photos / "b" / "deeper").mkdir(parents=True)
    (photos / "skipped-empty").mkdir()
    for i, path in enumerate([photos / "b" / "deeper" / "1.png", photos / "b" / "0.png", photos / "a.PNG"]):
        Image.fromarray((ds.X_test[i, 0] * 16).astype(np.uint8)).resize((64, 64)).save(path, format="PNG")
    (photos / "b" / "broken.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    (photos / "notes.txt").write_text("not an image, not picked up from a folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli("predict", run, photos, empty, tmp_path / "missing.png", "--json")
    assert proc.returncode == 1
    results = json.loads(proc.stdout)
    paths = [photos / "a.PNG", photos / "b" / "0.png", photos / "b" / "broken.jpg", photos / "b" / "deeper" / "1.png"]
    assert [r["path"] for r in results] == [str(p) for p in [*paths, empty, tmp_path / "missing.png"]]
    failed = {r["path"]: r["error"] for r in results if "error" in r}
    assert set(failed) == {str(paths[2]), str(empty), str(tmp_path / "missing.png")}
    assert "not a readable image" in failed[str(paths[2])] and "no images in this folder" in failed[str(empty)]
    assert all(r["label"] in ds.class_names for r in results if "error" not in r)
    assert_clean_error(proc, "3 of 6 images could not be read", str(paths[2]))
    text = run_cli("predict", run, photos)
    assert text.returncode == 1 and text.stderr.count("\n") == 1
    lines = text.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == [str(p) for p in paths]
    assert lines[2].startswith(f"{paths[2]}: not a readable image")
