import os
import pickle

import numpy as np
import pytest

from imgbench.data import load_dataset
from imgbench.data.formats import cifar
from imgbench.errors import DataFormatError

CATALOG_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


def _fake(rng, n):
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n)


def _write_py(folder, rng, n=4, protocol=2):
    folder.mkdir(parents=True)
    parts = {}
    for name in CATALOG_TRAIN + ["test_batch"]:
        X, y = _fake(rng, n)
        cifar.write_python_batch(folder / name, X, y, protocol=protocol)
        parts[name] = (X, y)
    meta = {b"label_names": [n.encode() for n in cifar.CLASS_NAMES], b"num_cases_per_batch": n}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return parts


@pytest.mark.parametrize("protocol", [2, 4])
def test_python_batches_round_trip(tmp_path, rng, protocol):
    parts = _write_py(tmp_path / "cifar10" / "cifar-10-batches-py", rng, protocol=protocol)
    ds = load_dataset("cifar10", root=tmp_path)
    X_train = np.concatenate([parts[n][0] for n in CATALOG_TRAIN])
    np.testing.assert_array_equal(ds.X_train, X_train)
    np.testing.assert_array_equal(ds.y_test, parts["test_batch"][1])
    assert ds.image_shape == (3, 32, 32) and ds.class_names == cifar.CLASS_NAMES


def test_planar_pixel_order_becomes_nchw(tmp_path):
    # Canonical rows are 1024 red, 1024 green, 1024 blue values.
    row = np.concatenate([np.full(1024, 10), np.full(1024, 20), np.full(1024, 30)]).astype(np.uint8)
    cifar.write_binary_batch(tmp_path / "b.bin", row[None].reshape(1, 3, 32, 32), np.array([3]))
    X, y = cifar.read_binary_batch(tmp_path / "b.bin")
    assert X.shape == (1, 3, 32, 32) and y.tolist() == [3]
    assert [int(X[0, c, 5, 7]) for c in range(3)] == [10, 20, 30]


def test_binary_batches_round_trip(tmp_path, rng):
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    data = {}
    for name in CATALOG_TRAIN + ["test_batch"]:
        data[name] = _fake(rng, 3)
        cifar.write_binary_batch(folder / f"{name}.bin", *data[name])
    (folder / "batches.meta.txt").write_text("\n".join(cifar.CLASS_NAMES) + "\n\n")
    ds = load_dataset("cifar10", root=tmp_path)
    assert len(ds.X_train) == 15 and len(ds.X_test) == 3
    np.testing.assert_array_equal(ds.X_test, data["test_batch"][0])
    np.testing.assert_array_equal(ds.y_train[:3], data["data_batch_1"][1])


def test_binary_batch_of_wrong_size(tmp_path):
    (tmp_path / "b.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(DataFormatError, match="3073-byte records, found 3000 bytes"):
        cifar.read_binary_batch(tmp_path / "b.bin")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


class Custom:  # a harmless but unexpected class
    pass


@pytest.mark.parametrize(
    "payload",
    [
        {b"data": _Evil()},
        {b"labels": [1, 2], b"data": Custom()},
    ],
    ids=["os.system", "custom-class"],
)
def test_pickle_with_foreign_globals_is_refused(tmp_path, payload):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(DataFormatError, match="refused.*is not allowed"):
        cifar.load_pickle_batch(path)


@pytest.mark.parametrize(
    "payload,match",
    [
        ({b"data": 1.5}, "found float"),
        ({b"data": {1, 2}}, r"global '__builtin__\.set' is not allowed"),
        ([1, 2, 3], "expected a dict, found list"),
        ({b"data": np.array([object()], dtype=object)}, "refused|dtype object"),
    ],
)
def test_pickle_with_unexpected_types_is_refused(tmp_path, payload, match):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(DataFormatError, match=match):
        cifar.load_pickle_batch(path)


def test_batch_with_wrong_array_shape(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DataFormatError, match=r"uint8 array \(N, 3072\), found uint8 \(2, 100\)"):
        cifar._batch_arrays(cifar.load_pickle_batch(path), path)
