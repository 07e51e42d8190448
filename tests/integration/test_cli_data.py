"""The ``imgbench data`` commands end to end, on the real datasets in ../shared."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import numpy as np

from imgbench.data import load_dataset
from imgbench.data.formats import csvfile, idx

MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def run_cli(*args, env=None, timeout=600):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "imgbench", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def assert_clean_error(proc, *needles):
    """Non-zero exit, one 'imgbench: error:' message naming what went wrong, no traceback."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("imgbench: error: "), proc.stderr
    for n in needles:
        assert n in proc.stderr, proc.stderr


def test_help_lists_subcommands():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "data" in proc.stdout
    proc = run_cli("data", "--help")
    for action in ("list", "info", "verify", "download"):
        assert action in proc.stdout


def test_mnist_info_json(shared_datasets):
    proc = run_cli("data", "info", "mnist", "--root", shared_datasets, "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["image_shape"] == [1, 28, 28] and d["dtype"] == "uint8"
    assert d["splits"]["train"]["count"] == 60000 and d["splits"]["test"]["count"] == 10000
    assert d["splits"]["train"]["class_counts"] == MNIST_TRAIN
    assert d["splits"]["test"]["class_counts"] == MNIST_TEST
    assert round(d["splits"]["train"]["pixel_mean"][0], 2) == 33.32


def test_fashion_mnist_info_json(shared_datasets):
    proc = run_cli("data", "info", "fashion-mnist", "--root", shared_datasets, "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["image_shape"] == [1, 28, 28]
    assert d["splits"]["train"]["class_counts"] == [6000] * 10
    assert d["splits"]["test"]["class_counts"] == [1000] * 10
    assert d["class_names"][0] == "T-shirt/top" and d["class_names"][9] == "Ankle boot"
    assert round(d["splits"]["train"]["pixel_mean"][0], 2) == 72.94


def test_cifar10_folder_info_and_cache(shared_datasets, fresh_cache):
    folder = shared_datasets / "cifar10-jpg"
    first = run_cli("data", "info", f"folder:{folder}", "--json")
    assert first.returncode == 0, first.stderr
    d = json.loads(first.stdout)
    assert d["image_shape"] == [3, 32, 32] and d["class_names"] == CIFAR_NAMES
    assert d["splits"]["train"]["count"] == 50000 and d["splits"]["test"]["count"] == 10000
    assert d["splits"]["train"]["class_counts"] == [5000] * 10
    assert d["splits"]["test"]["class_counts"] == [1000] * 10
    assert len(list((fresh_cache / "decoded").glob("folder-*.npz"))) == 1
    ds = load_dataset(f"folder:{folder}")  # second load: from the cache, same numbers
    assert ds.meta["cache"] == "hit" and len(ds.X_train) == 50000
    second = run_cli("data", "info", f"folder:{folder}", "--json")
    assert json.loads(second.stdout) == d


def test_kaggle_csv_from_mnist_rows_is_identical(shared_datasets, tmp_path):
    mnist = load_dataset("mnist", root=shared_datasets)
    rows_tr, rows_te = slice(0, 3000), slice(0, 1000)
    csvfile.write_csv(tmp_path / "train.csv", mnist.X_train[rows_tr], mnist.y_train[rows_tr])
    csvfile.write_csv(tmp_path / "test.csv", mnist.X_test[rows_te], mnist.y_test[rows_te])
    header = (tmp_path / "train.csv").read_text().split("\n", 1)[0].split(",")
    assert header[0] == "label" and header[1] == "pixel0" and header[-1] == "pixel783"
    ds = load_dataset(f"csv:{tmp_path}")
    np.testing.assert_array_equal(ds.X_train, mnist.X_train[rows_tr])
    np.testing.assert_array_equal(ds.y_train, mnist.y_train[rows_tr])
    np.testing.assert_array_equal(ds.X_test, mnist.X_test[rows_te])
    np.testing.assert_array_equal(ds.y_test, mnist.y_test[rows_te])
    proc = run_cli("data", "info", f"csv:{tmp_path}", "--json")
    assert json.loads(proc.stdout)["splits"]["train"]["count"] == 3000


def test_list_shows_where_data_is(shared_datasets):
    proc = run_cli("data", "list", "--root", shared_datasets)
    assert proc.returncode == 0
    lines = {ln.split()[0]: ln for ln in proc.stdout.splitlines() if ln.strip()}
    assert str(shared_datasets / "mnist") in lines["mnist"]
    assert "embedded" in lines["digits"]
    assert "not found" in lines["cifar10"] or "cifar10" in lines["cifar10"]
    rows = json.loads(run_cli("data", "list", "--json").stdout)
    assert {r["name"] for r in rows} == {"mnist", "fashion-mnist", "cifar10", "digits"}


def test_verify_recompressed_copy(shared_datasets):
    proc = run_cli("data", "verify", "mnist", "--root", shared_datasets)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("OK") == 5 and "content matches" in proc.stdout
    assert "5 passed, 0 failed" in proc.stdout


def test_verify_detects_modified_content(tmp_path, shared_datasets):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for f in (shared_datasets / "mnist").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    labels = idx.read_idx(folder / "t10k-labels-idx1-ubyte.gz").copy()
    labels[0] = (labels[0] + 1) % 10
    idx.write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels)
    proc = run_cli("data", "verify", "mnist", "--root", tmp_path)
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "t10k-labels" in proc.stdout


# --- bad input: one clear line, non-zero exit, no traceback -------------------------------


def _mnist_copy(tmp_path, shared_datasets):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for f in (shared_datasets / "mnist").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    return folder


def test_cli_truncated_gz(tmp_path, shared_datasets):
    folder = _mnist_copy(tmp_path, shared_datasets)
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:50000])
    assert_clean_error(run_cli("data", "info", "mnist", "--root", tmp_path), str(path), "truncated gzip")


def test_cli_idx_count_mismatch(tmp_path, shared_datasets):
    folder = _mnist_copy(tmp_path, shared_datasets)
    idx.write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(9999, np.uint8))
    assert_clean_error(
        run_cli("data", "info", "mnist", "--root", tmp_path), "10000 images", "9999 labels", "t10k-labels-idx1-ubyte.gz"
    )


def test_cli_wrong_magic(tmp_path, shared_datasets):
    folder = _mnist_copy(tmp_path, shared_datasets)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x01\x02\x03\x04" * 10)
    assert_clean_error(run_cli("data", "info", "mnist", "--root", tmp_path), "not an IDX file")


def test_cli_bad_csv_row(tmp_path):
    (tmp_path / "d.csv").write_text("label,p0,p1,p2,p3\n1,0,0,0,0\n2,0,x,0,0\n")
    assert_clean_error(
        run_cli("data", "info", f"csv:{tmp_path / 'd.csv'}"), "d.csv, line 3, column 3", "expected a number, found 'x'"
    )


def test_cli_cifar_pickle_refused(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for n in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / n).write_bytes(pickle.dumps({b"data": os.getcwd}, protocol=2))
    assert_clean_error(run_cli("data", "info", "cifar10", "--root", tmp_path), "data_batch_1", "refused")


def test_cli_image_folder_errors(tmp_path):
    from PIL import Image

    for c in ("a", "b"):
        (tmp_path / "f" / c).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (4, 4), i * 40).save(tmp_path / "f" / c / f"{i}.png")
    (tmp_path / "f" / "a" / "readme.txt").write_text("hi")
    ok = run_cli("data", "info", f"folder:{tmp_path / 'f'}")
    assert ok.returncode == 0 and "Traceback" not in ok.stderr
    assert ok.stderr.startswith("imgbench: warning: skipped 1 file(s)") and "readme.txt" in ok.stderr
    assert_clean_error(run_cli("data", "info", f"folder:{tmp_path / 'f'}", "--strict"), "readme.txt")
    (tmp_path / "f" / "c").mkdir()
    assert_clean_error(run_cli("data", "info", f"folder:{tmp_path / 'f'}"), "class folder 'c' is empty")


def test_cli_offline_not_found(tmp_path):
    proc = run_cli(
        "data", "info", "fashion-mnist", "--root", tmp_path, "--offline", env={"IMGBENCH_CACHE": str(tmp_path / "c")}
    )
    assert_clean_error(proc, str(tmp_path / "fashion-mnist"), "train-images-idx3-ubyte.gz")


def test_cli_unknown_dataset_and_not_downloadable():
    assert_clean_error(run_cli("data", "info", "imagenet"), "unknown dataset 'imagenet'")
    assert_clean_error(run_cli("data", "download", "digits"), "not downloadable")
