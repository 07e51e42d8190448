import numpy as np
import pytest

from imgbench.data import load_dataset
from imgbench.data.catalog import MNIST
from imgbench.data.formats import idx
from imgbench.data.locate import DEBIAN_ROOT, find_dataset, search_roots
from imgbench.errors import DatasetNotFoundError, ImgbenchError


def _fake_mnist(folder, n=20, value=0, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "" if not gz else ".gz"
    for split, k in (("train", n), ("t10k", n // 2)):
        idx.write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", np.full((k, 28, 28), value, np.uint8))
        idx.write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", (np.arange(k) % 10).astype(np.uint8))


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGBENCH_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("IMGBENCH_CACHE", str(tmp_path / "cache"))
    roots = search_roots(tmp_path / "root")
    assert roots == [tmp_path / "root", tmp_path / "env", tmp_path / "cache" / "datasets", DEBIAN_ROOT]


def test_root_wins_over_env(tmp_path, monkeypatch):
    _fake_mnist(tmp_path / "a" / "mnist", value=1)
    _fake_mnist(tmp_path / "b" / "mnist", value=2)
    monkeypatch.setenv("IMGBENCH_DATA", str(tmp_path / "b"))
    assert load_dataset("mnist", root=tmp_path / "a").X_train.max() == 1
    assert load_dataset("mnist").X_train.max() == 2


def test_raw_idx_files_are_found(tmp_path):
    _fake_mnist(tmp_path / "mnist", gz=False)
    assert find_dataset(MNIST, tmp_path) == tmp_path / "mnist"
    assert len(load_dataset("MNIST", root=tmp_path).X_test) == 10  # names are case-insensitive


def test_offline_message_lists_directories_and_files(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGBENCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DatasetNotFoundError) as exc:
        load_dataset("fashion-mnist", root=tmp_path / "mine", offline=True)
    msg = str(exc.value)
    assert "offline" in msg
    assert str(tmp_path / "mine" / "fashion-mnist") in msg
    assert str(tmp_path / "cache" / "datasets" / "fashion-mnist") in msg
    for name in (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ):
        assert name in msg


def test_unknown_name():
    with pytest.raises(ImgbenchError, match="unknown dataset 'imagenet'.*mnist, fashion-mnist, cifar10, digits"):
        load_dataset("imagenet")


def test_digits_is_embedded_and_fixed():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert a.image_shape == (1, 8, 8) and len(a.X_train) + len(a.X_test) == 1797
    assert a.X_train.max() == 255
    np.testing.assert_array_equal(a.y_test, b.y_test)
