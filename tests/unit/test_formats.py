"""The format registry: every registered format loads through load_dataset, and path formats record absolute paths."""

from __future__ import annotations

import numpy as np
import pytest

from imgbench.data import absolute_dataset_name, format_of, load_dataset, resolve_name, short_name
from imgbench.data.catalog import CATALOG
from imgbench.data.formats import FORMATS, DatasetFormat, path_format, path_formats
from imgbench.data.formats import csvfile as csv_format
from imgbench.errors import DataFormatError, ImgbenchError

from .test_cifar import _write_py
from .test_csv import _images
from .test_folder import _tree
from .test_locate import _fake_mnist


def _idx(folder, rng):
    _fake_mnist(folder, n=20, value=7)
    return np.full((30, 1, 28, 28), 7, np.uint8)


def _cifar(folder, rng):
    parts = _write_py(folder / "cifar-10-batches-py", rng, n=4)
    return np.concatenate([X for X, _ in parts.values()])


def _csv(folder, rng):
    X, y = _images(rng, n=15, side=4)
    folder.mkdir(parents=True)
    csv_format.write_csv(folder / "train.csv", X, y)
    return X


def _folder(folder, rng):
    images = _tree(folder, rng, classes=("cat", "dog", "eel"), n=5)
    return np.stack([a.transpose(2, 0, 1) for a in images.values()])


# Format name -> writer of a tiny dataset in that format (returns every image written, NCHW).
# The embedded format needs no files: its data ships with scikit-learn.
WRITERS = {"idx": _idx, "cifar": _cifar, "csv": _csv, "folder": _folder}
FILELESS = {"embedded"}


def _rows(X):
    """Images as a sorted list of byte strings: equal for the same images in any order."""
    return sorted(x.tobytes() for x in X)


def test_every_format_is_tested_and_named_by_its_key():
    assert set(FORMATS) == set(WRITERS) | FILELESS
    for key, fmt in FORMATS.items():
        assert isinstance(fmt, DatasetFormat) and fmt.name == key
        looks_for_a_folder = fmt.holds is not None
        assert looks_for_a_folder == (not fmt.prefix and key not in FILELESS)


def test_every_catalog_entry_names_a_registered_named_format():
    for info in CATALOG.values():
        fmt = FORMATS[info.format]
        assert not fmt.prefix, f"{info.name}: a named dataset cannot be in the path format {fmt.name}"
        assert format_of(info.name) is fmt


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_named_dataset_loads_from_tiny_files(tmp_path, rng, name):
    info = CATALOG[name]
    if info.format in FILELESS:
        ds = load_dataset(name)
    else:
        written = WRITERS[info.format](tmp_path / name, rng)
        ds = load_dataset(name, root=tmp_path)
        assert _rows(np.concatenate([ds.X_train, ds.X_test])) == _rows(written)
    assert ds.name == name and ds.image_shape == info.image_shape
    assert ds.class_names == info.class_names and ds.num_classes == len(info.class_names)


@pytest.mark.parametrize("fmt", path_formats(), ids=lambda f: f.name)
def test_every_path_format_loads_from_tiny_files(tmp_path, rng, fmt):
    written = WRITERS[fmt.name](tmp_path / "mine", rng)
    ds = load_dataset(f"{fmt.name}:{tmp_path / 'mine'}")
    assert _rows(np.concatenate([ds.X_train, ds.X_test])) == _rows(written)
    assert ds.X_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert len(ds.X_test) > 0 and ds.num_classes == 3


@pytest.mark.parametrize("fmt", path_formats(), ids=lambda f: f.name)
def test_relative_path_is_recorded_absolute_and_loads_from_elsewhere(tmp_path, rng, monkeypatch, fmt):
    WRITERS[fmt.name](tmp_path / "project" / "data", rng)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    relative = f"{fmt.name}:data"
    recorded = absolute_dataset_name(relative)
    assert recorded == f"{fmt.name}:{(tmp_path / 'project' / 'data').resolve()}"
    here = load_dataset(relative)
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(DataFormatError):
        load_dataset(relative)  # what a run record without the rule would hold
    there = load_dataset(recorded)
    for split in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(there, split), getattr(here, split))
    assert short_name(recorded) == short_name(relative) == "data"


@pytest.mark.parametrize("fmt", path_formats(), ids=lambda f: f.name)
def test_home_is_expanded_in_the_recorded_path(tmp_path, monkeypatch, fmt):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert absolute_dataset_name(f"{fmt.name}:~/pics/") == f"{fmt.name}:{tmp_path.resolve() / 'pics'}"


def test_named_datasets_are_recorded_and_shown_as_given():
    for name in [*CATALOG, "MNIST", "cifar"]:
        assert absolute_dataset_name(name) == name and short_name(name) == name


def test_names_resolve_through_the_registry():
    assert path_format("folder:/data/x") is FORMATS["folder"] and path_format("csv:a.csv") is FORMATS["csv"]
    assert path_format("mnist") is None and path_format("idx:/data") is None  # idx serves named datasets only
    assert resolve_name("folder:rel/path") == "folder:rel/path" and resolve_name("Fashion_MNIST") == "fashion-mnist"
    assert short_name("folder:/data/cifar10-jpg/") == "cifar10-jpg" and short_name("csv:/k/train.csv") == "train.csv"
    with pytest.raises(ImgbenchError, match=r"digits, folder:PATH or csv:PATH$"):
        resolve_name("idx:/data")
