"""The IDX format of MNIST and Fashion-MNIST, raw or gzip-compressed.

Format: two zero bytes, a dtype code, the number of dimensions ``ndim``, then
``ndim`` big-endian uint32 sizes, then the values in C order, big-endian.
The header alone determines the shape and dtype; the file size must agree.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...errors import DataFormatError
from ...fileio import atomic_write_bytes
from ..catalog import DatasetInfo
from ..dataset import Dataset
from .base import folder_format

# dtype code -> big-endian NumPy dtype, from the IDX specification.
IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
GZIP_MAGIC = b"\x1f\x8b"


def read_bytes_maybe_gzip(path: Path) -> bytes:
    """Return a file's bytes, decompressing gzip when its magic says so."""
    raw = path.read_bytes()
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        # zlib with wbits=31 is a single C call: noticeably faster than GzipFile.
        d = zlib.decompressobj(wbits=31)
        out = d.decompress(raw)
        if not d.eof:
            raise DataFormatError(
                f"{path}: truncated gzip file: expected a complete gzip stream, "
                f"found it ending after {len(raw)} bytes (re-download the file)"
            )
        if d.unused_data:  # concatenated members are legal gzip
            out += gzip.decompress(d.unused_data)
        return out
    except (zlib.error, EOFError, OSError) as exc:
        raise DataFormatError(f"{path}: corrupt gzip data ({exc}); re-download the file") from None


def parse_idx(buf: bytes, path: Path | str = "<bytes>") -> npt.NDArray[Any]:
    """Decode an IDX buffer into an array in native byte order."""
    if len(buf) < 4:
        raise DataFormatError(f"{path}: expected an IDX header of at least 4 bytes, found {len(buf)} bytes")
    zero, code, ndim = buf[:2], buf[2], buf[3]
    if zero != b"\x00\x00" or code not in IDX_DTYPES:
        raise DataFormatError(
            f"{path}: not an IDX file: expected magic 0x0000 followed by a dtype code in "
            f"{[hex(c) for c in IDX_DTYPES]}, found 0x{buf[:4].hex()}"
        )
    header = 4 + 4 * ndim
    if ndim == 0 or len(buf) < header:
        raise DataFormatError(f"{path}: IDX header declares {ndim} dimensions but the file has {len(buf)} bytes")
    dims = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(buf) != expected:
        raise DataFormatError(
            f"{path}: IDX header declares shape {dims} of {dtype.name} "
            f"({expected} bytes with the header) but the data is {len(buf)} bytes"
        )
    arr = np.frombuffer(buf, dtype=dtype, offset=header).reshape(dims)
    if dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


def read_idx(path: str | Path) -> npt.NDArray[Any]:
    """Read an IDX file (``.gz`` or raw) into a NumPy array."""
    path = Path(path)
    return parse_idx(read_bytes_maybe_gzip(path), path)


def write_idx(path: str | Path, arr: npt.ArrayLike, compress: bool | None = None) -> None:
    """Write ``arr`` as an IDX file (gzip when ``compress`` or the name ends in .gz)."""
    path = Path(path)
    arr = np.asarray(arr)
    native = arr.dtype.newbyteorder("=")
    if native not in _CODES:
        raise ValueError(f"IDX cannot store dtype {arr.dtype}")
    code = _CODES[native]
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    data = header + arr.astype(IDX_DTYPES[code]).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    atomic_write_bytes(path, data)


def images_labels(
    images: npt.NDArray[Any], labels: npt.NDArray[Any], images_path: Path | str, labels_path: Path | str
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Check an IDX image/label pair and return ``(X uint8 NCHW, y int64)``."""
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataFormatError(
            f"{images_path}: expected uint8 images of shape (N, H, W), found {images.dtype} {images.shape}"
        )
    if labels.ndim != 1:
        raise DataFormatError(f"{labels_path}: expected a 1-D label array, found shape {labels.shape}")
    if len(images) != len(labels):
        raise DataFormatError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    return images[:, None, :, :], labels.astype(np.int64)


def idx_file(folder: Path, name: str) -> Path | None:
    """``name`` (``*.gz``) in ``folder``, or its decompressed twin; None if neither exists."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _find(folder: Path, info: DatasetInfo) -> tuple[Path, ...] | None:
    """The dataset's IDX files in ``folder`` (each ``.gz`` or raw), in catalog order; None if one is missing."""
    paths = [idx_file(folder, f.name) for f in info.files]
    found = [p for p in paths if p is not None]
    return tuple(found) if info.files and len(found) == len(paths) else None


def _expected_files(info: DatasetInfo) -> list[str]:
    return [f.name for f in info.files]


def _read(info: DatasetInfo, folder: Path, paths: tuple[Path, ...]) -> Dataset:
    tr_img, tr_lab, te_img, te_lab = paths
    X_train, y_train = images_labels(read_idx(tr_img), read_idx(tr_lab), tr_img, tr_lab)
    X_test, y_test = images_labels(read_idx(te_img), read_idx(te_lab), te_img, te_lab)
    return Dataset(info.name, X_train, y_train, X_test, y_test, info.class_names, str(folder))


FORMAT = folder_format("idx", "IDX files (train/t10k images and labels, .gz or raw)", _find, _read, _expected_files)
