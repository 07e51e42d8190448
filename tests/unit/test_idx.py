import gzip

import numpy as np
import pytest

from imgbench.data.formats import idx
from imgbench.errors import DataFormatError


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_dtype(tmp_path, rng, dtype, suffix):
    arr = (rng.random((5, 3, 4)) * 100).astype(dtype)
    path = tmp_path / f"a-idx3-ubyte{suffix}"
    idx.write_idx(path, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    out = idx.read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == (5, 3, 4)
    np.testing.assert_array_equal(out, arr)


def test_header_is_big_endian_per_spec(tmp_path):
    path = tmp_path / "labels"
    idx.write_idx(path, np.arange(3, dtype=np.uint8))
    assert path.read_bytes() == b"\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\x02"


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    idx.write_idx(path, np.zeros((100, 28, 28), np.uint8) + 7)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="truncated gzip") as exc:
        idx.read_idx(path)
    assert str(path) in str(exc.value)


def test_wrong_magic(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 12)
    with pytest.raises(DataFormatError, match="not an IDX file.*0x12340801"):
        idx.read_idx(path)


def test_count_disagrees_with_file_size(tmp_path):
    path = tmp_path / "imgs"
    idx.write_idx(path, np.zeros((10, 4, 4), np.uint8))
    path.write_bytes(path.read_bytes()[:-16])  # one image short
    with pytest.raises(DataFormatError, match=r"declares shape \(10, 4, 4\).*176 bytes.*160 bytes"):
        idx.read_idx(path)


def test_gzip_of_wrong_content_is_reported_as_idx_error(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"hello world"))
    with pytest.raises(DataFormatError, match="not an IDX file"):
        idx.read_idx(path)


def test_images_and_labels_of_different_counts(tmp_path):
    with pytest.raises(DataFormatError, match="holds 5 images but .* holds 4 labels"):
        idx.images_labels(np.zeros((5, 2, 2), np.uint8), np.zeros(4, np.uint8), "imgs", "labs")


def test_images_labels_gives_nchw_and_int64():
    X, y = idx.images_labels(np.zeros((5, 2, 3), np.uint8), np.arange(5, dtype=np.uint8), "a", "b")
    assert X.shape == (5, 1, 2, 3) and y.dtype == np.int64
