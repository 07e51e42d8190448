import numpy as np
import pytest

from imgbench.data import load_dataset
from imgbench.data.formats import csvfile
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
