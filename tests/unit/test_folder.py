import os
import warnings

import numpy as np
import pytest
from PIL import Image

from imgbench.data import load_dataset
from imgbench.errors import DataFormatError

FORMATS = {"png": "PNG", "bmp": "BMP", "webp": "WEBP", "jpg": "JPEG"}


def _save(path, arr, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    kw = {"lossless": True} if path.suffix == ".webp" else {}
    Image.fromarray(arr).save(path, fmt or FORMATS[path.suffix[1:]], **kw)


def _tree(root, rng, classes=("cat", "dog"), n=3, size=(6, 5), ext="png", grey=False):
    """root/<class>/<i>.<ext>; returns {path: array}."""
    out = {}
    for c in classes:
        for i in range(n):
            shape = size[::-1] if grey else (*size[::-1], 3)
            arr = rng.integers(0, 256, shape, dtype=np.uint8)
            path = root / c / f"{i}.{ext}"
            _save(path, arr)
            out[path] = arr
    return out


@pytest.mark.parametrize("ext", ["png", "bmp", "webp"])
def test_presplit_lossless_formats_round_trip(tmp_path, rng, ext):
    train = _tree(tmp_path / "train", rng, ext=ext)
    test = _tree(tmp_path / "test", rng, n=2, ext=ext)
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.class_names == ("cat", "dog") and ds.image_shape == (3, 5, 6)
    assert len(ds.X_train) == 6 and len(ds.X_test) == 4
    expected = np.stack([a.transpose(2, 0, 1) for a in train.values()])  # sorted: cat 0..2, dog 0..2
    np.testing.assert_array_equal(ds.X_train, expected)
    assert ds.y_train.tolist() == [0, 0, 0, 1, 1, 1] and ds.y_test.tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(ds.X_test[0], list(test.values())[0].transpose(2, 0, 1))


def test_jpeg_and_grey(tmp_path, rng):
    _tree(tmp_path, rng, ext="jpg", grey=True, n=5)
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.image_shape == (1, 5, 6)
    assert len(ds.X_train) == 8 and len(ds.X_test) == 2  # seeded stratified 80/20
    assert sorted(ds.y_test.tolist()) == [0, 1]


def test_single_tree_split_is_seeded(tmp_path, rng):
    _tree(tmp_path, rng, n=10)
    a = load_dataset(f"folder:{tmp_path}", split_seed=3)
    b = load_dataset(f"folder:{tmp_path}", split_seed=3)
    c = load_dataset(f"folder:{tmp_path}", split_seed=4)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.X_test, c.X_test)


def test_mixed_grey_and_rgb_becomes_rgb(tmp_path, rng):
    grey = rng.integers(0, 256, (4, 4), dtype=np.uint8)
    _save(tmp_path / "a" / "g.png", grey)
    _save(tmp_path / "a" / "g2.png", grey)
    _save(tmp_path / "b" / "c.png", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    _save(tmp_path / "b" / "c2.png", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    ds = load_dataset(f"folder:{tmp_path}", test_fraction=0.5)
    assert ds.image_shape == (3, 4, 4)
    X = np.concatenate([ds.X_train, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    g = X[y == 0][0]
    assert (g[0] == g[1]).all() and (g[1] == g[2]).all()


def test_differing_sizes_name_two_files(tmp_path, rng):
    _save(tmp_path / "a" / "1.png", rng.integers(0, 256, (4, 4), dtype=np.uint8))
    _save(tmp_path / "a" / "2.png", rng.integers(0, 256, (4, 4), dtype=np.uint8))
    _save(tmp_path / "b" / "3.png", rng.integers(0, 256, (7, 5), dtype=np.uint8))
    _save(tmp_path / "b" / "4.png", rng.integers(0, 256, (4, 4), dtype=np.uint8))
    with pytest.raises(DataFormatError, match=r"a/1\.png is 4x4 but .*b/3\.png is 5x7.*--image-size"):
        load_dataset(f"folder:{tmp_path}")
    ds = load_dataset(f"folder:{tmp_path}", image_size=8, test_fraction=0.5)
    assert ds.image_shape == (1, 8, 8)


def test_non_image_file_is_skipped_with_one_warning(tmp_path, rng):
    _tree(tmp_path, rng, n=3)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_dataset(f"folder:{tmp_path}")
    msgs = [str(w.message) for w in caught]
    assert len(msgs) == 1
    assert "skipped 2 file(s)" in msgs[0] and "notes.txt" in msgs[0] and "broken.png" in msgs[0]
    assert len(ds.X_train) + len(ds.X_test) == 6
    assert ds.meta["skipped"] and len(ds.meta["skipped"]) == 2


def test_non_image_file_is_an_error_when_strict(tmp_path, rng):
    _tree(tmp_path, rng, n=3)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    with pytest.raises(DataFormatError, match=r"strict mode.*notes\.txt"):
        load_dataset(f"folder:{tmp_path}", strict=True)


def test_empty_class_folder(tmp_path, rng):
    _tree(tmp_path, rng, n=3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="class folder 'empty' is empty"):
        load_dataset(f"folder:{tmp_path}")


def test_class_with_only_unreadable_files(tmp_path, rng):
    _tree(tmp_path, rng, n=3)
    (tmp_path / "ghost").mkdir()
    (tmp_path / "ghost" / "x.png").write_text("nope")
    with pytest.raises(DataFormatError, match="class 'ghost' has no readable image"):
        load_dataset(f"folder:{tmp_path}")


def test_train_and_test_classes_must_match(tmp_path, rng):
    _tree(tmp_path / "train", rng, classes=("a", "b"))
    _tree(tmp_path / "test", rng, classes=("a", "c"))
    with pytest.raises(DataFormatError, match="same class folders"):
        load_dataset(f"folder:{tmp_path}")


def test_missing_folder(tmp_path):
    with pytest.raises(DataFormatError, match="no such directory"):
        load_dataset(f"folder:{tmp_path / 'nope'}")


def test_cache_hit_and_invalidation(tmp_path, rng, fresh_cache):
    tmp_path = tmp_path / "data"
    files = _tree(tmp_path, rng, n=4)
    first = load_dataset(f"folder:{tmp_path}")
    assert first.meta["cache"] == "miss"
    second = load_dataset(f"folder:{tmp_path}")
    assert second.meta["cache"] == "hit"
    np.testing.assert_array_equal(first.X_train, second.X_train)
    # Rewrite one image with new pixels and a new mtime: the cache must not be used.
    path = next(iter(files))
    _save(path, np.zeros((5, 6, 3), np.uint8))
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = load_dataset(f"folder:{tmp_path}")
    assert third.meta["cache"] == "miss"
    all_X = np.concatenate([third.X_train, third.X_test])
    assert (all_X.reshape(len(all_X), -1).max(axis=1) == 0).sum() == 1


def test_parallel_decode_matches_serial(tmp_path, rng):
    from imgbench.data.formats.folder import decode_images

    files = list(_tree(tmp_path, rng, n=4))
    serial = decode_images(files, None, workers=1)
    parallel = decode_images(files * 600, None, workers=2)  # above the parallel threshold
    for i, a in enumerate(parallel):
        np.testing.assert_array_equal(a, serial[i % len(files)])
