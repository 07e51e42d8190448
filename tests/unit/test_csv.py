import re

import numpy as np
import pytest

from imgbench.data import load_dataset
from imgbench.data.formats import csvfile
from imgbench.data.splits import stratified_split
from imgbench.errors import DataFormatError


def _images(rng, n=12, side=4):
    return rng.integers(0, 256, (n, 1, side, side), dtype=np.uint8), np.arange(n) % 3


def test_round_trip_with_labels(tmp_path, rng):
    X, y = _images(rng)
    csvfile.write_csv(tmp_path / "train.csv", X, y)
    assert (tmp_path / "train.csv").read_text().startswith("label,pixel0,pixel1,")
    X2, y2 = csvfile.read_csv(tmp_path / "train.csv")
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_without_label_column_is_for_prediction(tmp_path, rng):
    X, _ = _images(rng)
    csvfile.write_csv(tmp_path / "test.csv", X)
    X2, y2 = csvfile.read_csv(tmp_path / "test.csv")
    assert y2 is None
    np.testing.assert_array_equal(X2, X)
    with pytest.raises(DataFormatError, match="expected a 'label' first column"):
        load_dataset(f"csv:{tmp_path / 'test.csv'}")


def _lines(path):
    return path.read_text().splitlines()


def test_non_numeric_cell_reports_line_and_column(tmp_path, rng):
    X, y = _images(rng)
    path = tmp_path / "t.csv"
    csvfile.write_csv(path, X, y)
    lines = _lines(path)
    cells = lines[3].split(",")
    cells[5] = "abc"
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"t\.csv, line 4, column 6: expected a number, found 'abc'"):
        csvfile.read_csv(path)


def test_wrong_number_of_columns_reports_line(tmp_path, rng):
    X, y = _images(rng)
    path = tmp_path / "t.csv"
    csvfile.write_csv(path, X, y)
    lines = _lines(path)
    lines[6] = lines[6].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match="line 7: expected 17 columns as in the header, found 16"):
        csvfile.read_csv(path)


def test_pixel_out_of_range(tmp_path, rng):
    X, y = _images(rng)
    path = tmp_path / "t.csv"
    csvfile.write_csv(path, X, y)
    lines = _lines(path)
    lines[2] = lines[2].rsplit(",", 1)[0] + ",300"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match="line 3: expected pixel values 0-255, found 300"):
        csvfile.read_csv(path)


def test_non_square_pixel_count(tmp_path):
    (tmp_path / "t.csv").write_text("label,a,b,c\n1,2,3,4\n")
    with pytest.raises(DataFormatError, match="square number of pixel columns.*found 3"):
        csvfile.read_csv(tmp_path / "t.csv")


def test_csv_folder_with_labelled_test(tmp_path, rng):
    X, y = _images(rng, 30)
    csvfile.write_csv(tmp_path / "train.csv", X[:20], y[:20])
    csvfile.write_csv(tmp_path / "test.csv", X[20:], y[20:])
    ds = load_dataset(f"csv:{tmp_path}")
    assert len(ds.X_train) == 20 and len(ds.X_test) == 10 and ds.num_classes == 3
    np.testing.assert_array_equal(ds.X_test, X[20:])


def test_single_csv_is_split_stratified(tmp_path, rng):
    X, y = _images(rng, 30)
    csvfile.write_csv(tmp_path / "all.csv", X, y)
    ds = load_dataset(f"csv:{tmp_path / 'all.csv'}")
    assert len(ds.X_train) == 24 and len(ds.X_test) == 6
    assert np.bincount(ds.y_test).tolist() == [2, 2, 2]


def test_csv_cache_is_invalidated_by_a_change(tmp_path, rng, fresh_cache):
    X, y = _images(rng, 30)
    path = tmp_path / "all.csv"
    csvfile.write_csv(path, X, y)
    load_dataset(f"csv:{path}")
    assert len(list((fresh_cache / "decoded").glob("csv-*.npz"))) == 1
    X[:, :, 0, 0] = 0
    csvfile.write_csv(path, X, y)
    ds = load_dataset(f"csv:{path}")
    assert (ds.X_train[:, :, 0, 0] == 0).all()
    assert len(list((fresh_cache / "decoded").glob("csv-*.npz"))) == 2


# --- Kaggle's layouts: file names, header styles, quoting, line ends ------------------------------

SIDE = 28
HEADERS = {
    "pixel0": [f"pixel{i}" for i in range(SIDE * SIDE)],  # Digit Recognizer: train.csv / test.csv
    "pixel1": [f"pixel{i + 1}" for i in range(SIDE * SIDE)],  # Fashion MNIST: fashion-mnist_train.csv
    "RxC": [f"{r}x{c}" for r in range(1, SIDE + 1) for c in range(1, SIDE + 1)],  # MNIST in CSV: mnist_train.csv
}


def _kaggle(rng, n=20):
    """``n`` random 28x28 images (no symmetry to hide a transposed read) and labels 0-9."""
    return rng.integers(0, 256, (n, 1, SIDE, SIDE), dtype=np.uint8), rng.permutation(n) % 10


def _write_kaggle(path, X, y, names, *, columns=None, quote_names=False, quote_cells=False, crlf=False, bom=False):
    """A CSV as Kaggle's files are written; ``columns`` reorders the pixel columns (header and cells alike)."""
    pixels = X.reshape(len(X), -1)
    order = np.arange(pixels.shape[1]) if columns is None else columns
    names = [names[j] for j in order]
    rows = [[str(v) for v in row] for row in pixels[:, order]]
    if y is not None:
        names = ["label", *names]
        rows = [[str(label), *row] for label, row in zip(y, rows, strict=True)]

    def line(cells, quote):
        return ",".join(f'"{c}"' if quote else c for c in cells)

    end = "\r\n" if crlf else "\n"
    text = end.join([line(names, quote_names), *(line(r, quote_cells) for r in rows)]) + end
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())


@pytest.mark.parametrize("style", HEADERS)
@pytest.mark.parametrize(
    "variant",
    [{}, {"quote_names": True}, {"quote_names": True, "quote_cells": True}, {"crlf": True}, {"bom": True}],
    ids=["plain", "quoted-names", "quoted-cells", "crlf", "bom"],
)
def test_header_styles_read_exactly(tmp_path, rng, style, variant):
    X, y = _kaggle(rng)
    _write_kaggle(tmp_path / "t.csv", X, y, HEADERS[style], **variant)
    X2, y2 = csvfile.read_csv(tmp_path / "t.csv")
    assert X2.dtype == np.uint8 and y2.dtype == np.int64
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


@pytest.mark.parametrize("style", HEADERS)
def test_columns_in_another_order_go_where_the_header_says(tmp_path, rng, style):
    X, y = _kaggle(rng)
    _write_kaggle(tmp_path / "t.csv", X, y, HEADERS[style], columns=rng.permutation(SIDE * SIDE))
    X2, y2 = csvfile.read_csv(tmp_path / "t.csv")
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_unknown_names_are_taken_in_file_order(tmp_path, rng):
    X, y = _kaggle(rng)
    _write_kaggle(tmp_path / "t.csv", X, y, [f"p{i}" for i in range(SIDE * SIDE)], crlf=True)
    np.testing.assert_array_equal(csvfile.read_csv(tmp_path / "t.csv")[0], X)


@pytest.mark.parametrize("style", HEADERS)
def test_unlabelled_file_reads_images_only(tmp_path, rng, style):
    X, _ = _kaggle(rng)
    _write_kaggle(tmp_path / "test.csv", X, None, HEADERS[style], crlf=True)
    X2, y2 = csvfile.read_csv(tmp_path / "test.csv")
    assert y2 is None
    np.testing.assert_array_equal(X2, X)


# Kaggle's pairs, each with the header style its dataset ships with.
PAIRS = {"": "pixel0", "mnist_": "RxC", "fashion-mnist_": "pixel1"}


@pytest.mark.parametrize("prefix", PAIRS)
def test_folder_pair_is_train_and_test(tmp_path, rng, prefix):
    X, y = _kaggle(rng, 30)
    names = HEADERS[PAIRS[prefix]]
    _write_kaggle(tmp_path / f"{prefix}train.csv", X[:20], y[:20], names)
    _write_kaggle(tmp_path / f"{prefix}test.csv", X[20:], y[20:], names, crlf=True)
    (tmp_path / "sample_submission.csv").write_text("ImageId,Label\n1,0\n")  # Kaggle ships one; not data
    for _ in range(2):  # decoded, then from the cache
        ds = load_dataset(f"csv:{tmp_path}")
        np.testing.assert_array_equal(ds.X_train, X[:20])
        np.testing.assert_array_equal(ds.y_train, y[:20])
        np.testing.assert_array_equal(ds.X_test, X[20:])
        np.testing.assert_array_equal(ds.y_test, y[20:])
        assert ds.class_names == tuple(str(i) for i in range(10)) and ds.meta == {}


def test_unlabelled_test_file_is_reported_and_train_is_split(tmp_path, rng):
    X, y = _kaggle(rng, 40)
    _write_kaggle(tmp_path / "train.csv", X[:30], y[:30], HEADERS["pixel0"])
    _write_kaggle(tmp_path / "test.csv", X[30:], None, HEADERS["pixel0"])
    for _ in range(2):  # the warning comes with the cached copy too
        with pytest.warns(UserWarning, match=r"test\.csv has no 'label' column.*'imgbench predict'.*20% of train\.csv"):
            ds = load_dataset(f"csv:{tmp_path}")
        assert ds.meta == {"unlabelled_test": str(tmp_path / "test.csv")}
        tr, te = stratified_split(y[:30], 0.2, 0)  # as a single file would be split
        np.testing.assert_array_equal(ds.X_train, X[tr])
        np.testing.assert_array_equal(ds.X_test, X[te])
        np.testing.assert_array_equal(ds.y_test, y[te])


def test_folder_needs_exactly_one_training_file(tmp_path, rng):
    X, y = _images(rng)
    with pytest.raises(DataFormatError, match=r"expected a training file train\.csv or NAME_train\.csv"):
        load_dataset(f"csv:{tmp_path}")
    csvfile.write_csv(tmp_path / "mnist_train.csv", X, y)
    csvfile.write_csv(tmp_path / "fashion-mnist_train.csv", X, y)
    with pytest.raises(DataFormatError, match="found fashion-mnist_train.csv, mnist_train.csv; put each"):
        load_dataset(f"csv:{tmp_path}")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("pixel0,pixel1,pixel2,label", "expected the 'label' column first, found it in column 4"),
        ("label,pixel0,pixel1,pixel1,pixel3", "header columns 'pixel1' and 'pixel1' name the same pixel"),
        ("label,pixel1,pixel2,pixel3,pixel5", "header column 'pixel5' names no pixel of a 2x2 image"),
        ("label,1x1,1x2,1x3,2x1", "header column '1x3' names no pixel of a 2x2 image"),
        ("5,0,0,0,0", "expected a header line 'label,pixel0,...' first, found a row of numbers"),
    ],
)
def test_headers_that_cannot_be_right(tmp_path, header, message):
    (tmp_path / "t.csv").write_text(f"{header}\n1,2,3,4,5\n")
    with pytest.raises(DataFormatError, match=re.escape(message)):
        csvfile.read_csv(tmp_path / "t.csv")
