"""`visualize`, `walkthrough`, `gallery` and `embedding` on trained runs: real PNGs, right maths, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.signal import correlate2d

from imgbench.engines.numpy.teaching import KERNELS
from imgbench.viz.walkthrough import compute_walkthrough

from .test_cli_data import assert_clean_error, run_cli


def assert_png(path, min_size=(300, 150)):
    """A real picture: at least ``min_size`` pixels and not blank (pixel variance above a floor)."""
    assert path.exists(), path
    with Image.open(path) as im:
        assert im.format == "PNG"
        w, h = im.size
        a = np.asarray(im.convert("L"), dtype=np.float64)
    assert w >= min_size[0] and h >= min_size[1], (path.name, im.size)
    assert a.var() > 100, (path.name, a.var())


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory, shared_datasets):
    """A cnn-small run on MNIST with the torch engine (a short run: about 97% accurate)."""
    runs = tmp_path_factory.mktemp("runs")
    proc = run_cli(
        "train",
        "--dataset",
        "mnist",
        "--root",
        shared_datasets,
        "--model",
        "cnn-small",
        "--engine",
        "torch",
        "--epochs",
        "1",
        "--max-steps",
        "250",
        "--runs-dir",
        runs,
        "--name",
        "cnn",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    return runs / "cnn", shared_datasets


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 2), (2, 1), (3, 0)])
@pytest.mark.parametrize("kernel", ["edge", "blur", "sharpen", "random5"])
def test_walkthrough_convolution_equals_scipy_correlate2d(stride, padding, kernel):
    rng = np.random.default_rng(7)
    image = rng.random((13, 11))
    k = rng.standard_normal((5, 5)) if kernel == "random5" else KERNELS[kernel]
    w = compute_walkthrough(image, k, stride, padding)
    expected = correlate2d(np.pad(image, padding), k, mode="valid")[::stride, ::stride]
    np.testing.assert_allclose(w.convolved, expected, atol=1e-12)
    np.testing.assert_array_equal(w.activated, np.maximum(w.convolved, 0))
    h2, w2 = (s // 2 for s in w.activated.shape)
    pooled = w.activated[: 2 * h2, : 2 * w2].reshape(h2, 2, w2, 2).max(axis=(1, 3))
    np.testing.assert_array_equal(w.pooled, pooled)


def test_visualize_writes_filters_feature_maps_probabilities_and_saliency(cnn_run, tmp_path):
    run, _ = cnn_run
    proc = run_cli("visualize", run, "--index", "0", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "feature_maps_01_conv1.png",
        "feature_maps_02_pool1.png",
        "feature_maps_03_conv2.png",
        "feature_maps_04_pool2.png",
        "filters.png",
        "probabilities.png",
        "saliency.png",
    ]
    for name in names:
        assert_png(tmp_path / name)


def test_visualize_a_users_image_file(cnn_run, tmp_path):
    run, _ = cnn_run
    canvas = np.full((120, 90), 235, np.uint8)  # dark ink on light paper, off-centre
    canvas[20:95, 50:58] = 20
    Image.fromarray(canvas).save(tmp_path / "one.png")
    proc = run_cli("visualize", run, "--image", tmp_path / "one.png", "--out", tmp_path / "v")
    assert proc.returncode == 0, proc.stderr
    assert_png(tmp_path / "v" / "probabilities.png")
    assert_png(tmp_path / "v" / "saliency.png")


def test_walkthrough_cli_with_dataset_file_and_learned_kernel(cnn_run, tmp_path):
    run, root = cnn_run
    proc = run_cli("walkthrough", "--dataset", "mnist", "--root", root, "--index", "0", "--out", tmp_path / "a")
    assert proc.returncode == 0, proc.stderr
    assert_png(tmp_path / "a" / "walkthrough.png", (1000, 250))
    photo = (np.random.default_rng(0).random((600, 900, 3)) * 255).astype(np.uint8)  # large: shrunk to 256
    Image.fromarray(photo).save(tmp_path / "photo.jpg")
    proc = run_cli(
        "walkthrough",
        tmp_path / "photo.jpg",
        "--kernel",
        f"learned:{run}:2",
        "--stride",
        "2",
        "--padding",
        "1",
        "--out",
        tmp_path / "b",
    )
    assert proc.returncode == 0, proc.stderr
    assert_png(tmp_path / "b" / "walkthrough.png", (1000, 250))


def test_gallery_and_embedding(cnn_run, tmp_path):
    run, _ = cnn_run
    proc = run_cli("gallery", run, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("predictions.png", "examples_per_class.png", "confident_mistakes.png"):
        assert_png(tmp_path / name)
    proc = run_cli("embedding", run, "--samples", "400", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_png(tmp_path / "embedding_pca.png")
    assert_png(tmp_path / "embedding_tsne.png")


def test_keras_run_is_visualized_through_the_same_adapter(tmp_path):
    pytest.importorskip("keras")
    proc = run_cli(
        "train",
        "--dataset",
        "digits",
        "--model",
        "cnn-tiny",
        "--engine",
        "keras",
        "--epochs",
        "2",
        "--runs-dir",
        tmp_path,
        "--name",
        "k",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("visualize", tmp_path / "k", "--index", "5", "--out", tmp_path / "v")
    assert proc.returncode == 0, proc.stderr
    for name in ("filters.png", "feature_maps_01_conv1.png", "probabilities.png", "saliency.png"):
        assert_png(tmp_path / "v" / name, (250, 150))


def test_visual_commands_reject_bad_input(cnn_run, tmp_path):
    run, root = cnn_run
    assert_clean_error(run_cli("visualize", run, "--index", "10000", "--out", tmp_path), "out of range")
    assert_clean_error(run_cli("visualize", run, "--out", tmp_path), "give an image file or --index")
    (tmp_path / "notes.txt").write_text("not an image")
    assert_clean_error(
        run_cli("visualize", run, "--image", tmp_path / "notes.txt", "--out", tmp_path),
        "notes.txt",
        "not a readable image",
    )
    assert_clean_error(
        run_cli("walkthrough", "--dataset", "mnist", "--root", root, "--kernel", "wobble", "--out", tmp_path),
        "unknown kernel 'wobble'",
    )
    assert_clean_error(
        run_cli(
            "walkthrough", "--dataset", "mnist", "--root", root, "--kernel", f"learned:{run}:99", "--out", tmp_path
        ),
        "filter 99 does not exist",
    )
    assert_clean_error(
        run_cli("walkthrough", "--dataset", "mnist", "--root", root, "--stride", "0", "--out", tmp_path),
        "--stride must be an integer >= 1, got 0",
    )
    assert_clean_error(run_cli("gallery", tmp_path, "--out", tmp_path), "not a run directory")


TINY_TRANSFORMER = """\
layers:
  - {type: patchembed, patch_size: 2, dim: 16}
  - {type: classtoken}
  - {type: posembed}
  - {type: transformer, heads: 2, mlp_ratio: 2}
  - {type: transformer, heads: 2, mlp_ratio: 2}
  - {type: layernorm}
  - {type: tokenpool, mode: class}
  - {type: dense, units: num_classes}
"""


@pytest.mark.parametrize(
    "engine",
    ["numpy", pytest.param("torch", marks=pytest.mark.slow), pytest.param("keras", marks=pytest.mark.slow)],
)
def test_visualize_draws_attention_rollout_for_a_transformer(tmp_path, engine):
    if engine != "numpy":
        pytest.importorskip(engine)
    spec = tmp_path / "tiny-vit.yaml"
    spec.write_text(TINY_TRANSFORMER)
    train = ("train", "--dataset", "digits", "--model", spec, "--engine", engine, "--epochs", "1")
    proc = run_cli(*train, "--max-steps", "20", "--runs-dir", tmp_path, "--name", "vit", "--quiet")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("visualize", tmp_path / "vit", "--index", "3", "--out", tmp_path / "v")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "v").iterdir())
    # the patch embedding's filters, no feature maps (tokens are not maps), and the rollout
    assert names == ["attention_rollout.png", "filters.png", "probabilities.png", "saliency.png"]
    for name in names:
        assert_png(tmp_path / "v" / name, (250, 150))
