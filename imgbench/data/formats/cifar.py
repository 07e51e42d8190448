"""The CIFAR-10 format, in its two canonical releases.

* ``cifar-10-batches-py``: Python pickles (``data_batch_1..5``, ``test_batch``,
  ``batches.meta``).  They are read through :class:`RestrictedUnpickler`, which
  resolves only the NumPy array-reconstruction globals and refuses every other
  global, so a tampered file cannot run code.  The decoded content is then
  checked: a dict of bytes/str keys holding ``data`` (uint8, N x 3072) and
  ``labels`` (list of ints).
* ``cifar-10-batches-bin``: records of 1 label byte + 3072 pixel bytes
  (``data_batch_1.bin``.. ``test_batch.bin``, ``batches.meta.txt``).

Pixels are stored channel-planar (R plane, G plane, B plane), so a row of
3072 bytes reshapes directly into ``(3, 32, 32)``: NCHW without a transpose.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...errors import DataFormatError
from ..catalog import CIFAR10, DatasetInfo
from ..dataset import Dataset
from .base import folder_format

# The release's labels, used when a folder has no batches.meta.
CLASS_NAMES = CIFAR10.class_names
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
BATCHES = (*TRAIN_BATCHES, TEST_BATCH)
RECORD = 1 + 3 * 32 * 32
PY_LAYOUT, BIN_LAYOUT = "cifar-10-batches-py", "cifar-10-batches-bin"

Arrays = tuple[
    npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.int64], tuple[str, ...]
]

# The only globals a CIFAR pickle needs: those that rebuild an ndarray, under
# their NumPy 1 and NumPy 2 module paths.  Everything else, including the
# ``copyreg`` helpers that rebuild arbitrary objects, is refused.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """Python 3 pickles ``bytes`` at protocol 2 as ``_codecs.encode(str, 'latin1')``."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds NumPy arrays and builtin containers."""

    def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle API
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed")


def _plain(value: object, path: Path, depth: int = 0) -> None:
    """Check that an unpickled value holds only dict/list/bytes/str/int/ndarray."""
    if depth > 3:
        raise DataFormatError(f"{path}: nested too deeply for a CIFAR batch")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (bytes, str)):
                raise DataFormatError(f"{path}: expected bytes or str keys, found {type(k).__name__}")
            _plain(v, path, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _plain(v, path, depth + 1)
    elif isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise DataFormatError(f"{path}: expected a numeric array, found dtype object")
    elif not isinstance(value, (bytes, str, int)) or isinstance(value, bool):
        raise DataFormatError(
            f"{path}: expected only dict/list/bytes/str/int/ndarray content, found {type(value).__name__}"
        )


def load_pickle_batch(path: str | Path) -> dict[str, object]:
    """Safely load one pickled CIFAR batch; keys are returned as str."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            obj = RestrictedUnpickler(fh, encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DataFormatError(
            f"{path}: refused: a CIFAR batch may hold only arrays, lists, bytes and ints ({exc})"
        ) from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise DataFormatError(f"{path}: not a readable CIFAR pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise DataFormatError(f"{path}: expected a dict, found {type(obj).__name__}")
    _plain(obj, path)
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _batch_arrays(batch: dict[str, object], path: Path) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataFormatError(f"{path}: expected 'data' as uint8 array (N, 3072), found {found}")
    if not isinstance(labels, list) or not all(isinstance(v, int) for v in labels):
        raise DataFormatError(f"{path}: expected 'labels' as a list of ints")
    if len(labels) != len(data):
        raise DataFormatError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def read_python_batches(folder: str | Path) -> Arrays:
    """Read ``cifar-10-batches-py`` into ``X_train, y_train, X_test, y_test, class_names``."""
    folder = Path(folder)
    parts = [_batch_arrays(load_pickle_batch(folder / n), folder / n) for n in TRAIN_BATCHES]
    X_test, y_test = _batch_arrays(load_pickle_batch(folder / TEST_BATCH), folder / TEST_BATCH)
    names: tuple[str, ...] = CLASS_NAMES
    meta_path = folder / "batches.meta"
    if meta_path.exists():
        meta = load_pickle_batch(meta_path)
        label_names = meta.get("label_names")
        if isinstance(label_names, list) and label_names:
            names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in label_names)
    X_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    return X_train, y_train, X_test, y_test, names


def read_binary_batch(path: str | Path) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Read one ``*.bin`` batch of 3073-byte records."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) == 0 or len(raw) % RECORD:
        raise DataFormatError(f"{path}: expected a whole number of {RECORD}-byte records, found {len(raw)} bytes")
    rec = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD)
    return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), rec[:, 0].astype(np.int64)


def read_binary_batches(folder: str | Path) -> Arrays:
    """Read ``cifar-10-batches-bin`` into ``X_train, y_train, X_test, y_test, class_names``."""
    folder = Path(folder)
    parts = [read_binary_batch(folder / f"{n}.bin") for n in TRAIN_BATCHES]
    X_test, y_test = read_binary_batch(folder / f"{TEST_BATCH}.bin")
    names: tuple[str, ...] = CLASS_NAMES
    meta = folder / "batches.meta.txt"
    if meta.exists():
        lines = [ln.strip() for ln in meta.read_text(errors="replace").splitlines() if ln.strip()]
        if lines:
            names = tuple(lines)
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        X_test,
        y_test,
        names,
    )


def write_python_batch(
    path: str | Path, X: npt.NDArray[np.uint8], y: npt.NDArray[np.integer[Any]], protocol: int = 2
) -> None:
    """Write a batch in the canonical pickle layout (used by tests and tools)."""
    obj = {
        b"batch_label": b"written by imgbench",
        b"labels": [int(v) for v in y],
        b"data": np.ascontiguousarray(X.reshape(len(X), -1), dtype=np.uint8),
        b"filenames": [f"{i}.png".encode() for i in range(len(X))],
    }
    buf = io.BytesIO()
    pickle.dump(obj, buf, protocol=protocol)
    Path(path).write_bytes(buf.getvalue())


def write_binary_batch(path: str | Path, X: npt.NDArray[np.uint8], y: npt.NDArray[np.integer[Any]]) -> None:
    """Write a batch in the canonical binary layout (used by tests and tools)."""
    rec = np.empty((len(X), RECORD), dtype=np.uint8)
    rec[:, 0] = y
    rec[:, 1:] = X.reshape(len(X), -1)
    Path(path).write_bytes(rec.tobytes())


def cifar_layout(folder: Path) -> tuple[str, Path] | None:
    """``("py"|"bin", batch_folder)`` for a CIFAR-10 folder in either canonical layout."""
    for sub in (folder / PY_LAYOUT, folder):
        if all((sub / n).is_file() for n in BATCHES):
            return "py", sub
    for sub in (folder / BIN_LAYOUT, folder):
        if all((sub / f"{n}.bin").is_file() for n in BATCHES):
            return "bin", sub
    return None


def _find(folder: Path, info: DatasetInfo) -> tuple[str, Path] | None:
    return cifar_layout(folder)


def _expected_files(info: DatasetInfo) -> list[str]:
    return [
        f"{PY_LAYOUT}/" + ", ".join(BATCHES) + " (+ batches.meta)",
        f"or {BIN_LAYOUT}/" + ", ".join(f"{n}.bin" for n in BATCHES),
    ]


def _read(info: DatasetInfo, folder: Path, layout: tuple[str, Path]) -> Dataset:
    kind, sub = layout
    reader = read_python_batches if kind == "py" else read_binary_batches
    X_train, y_train, X_test, y_test, names = reader(sub)
    return Dataset(info.name, X_train, y_train, X_test, y_test, names, str(sub))


FORMAT = folder_format(
    "cifar",
    "CIFAR-10 batches (cifar-10-batches-py pickles or cifar-10-batches-bin records)",
    _find,
    _read,
    _expected_files,
)
