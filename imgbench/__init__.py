"""imgbench: an image-classification workbench.

The same networks written from scratch in NumPy, in PyTorch and in
Keras/TensorFlow, trained on the same data and batches, compared honestly.

Public API (stable names; the CLI is a thin layer over these):

- :func:`load_dataset` -- MNIST, Fashion-MNIST, CIFAR-10, digits, ``folder:PATH``, ``csv:PATH``
- :class:`Dataset` -- uint8 NCHW images, int64 labels, class names
- :func:`describe` -- per-split counts and pixel statistics of a dataset
- :class:`BatchIterator`, :class:`Normalizer`, :class:`Augmenter`, :func:`train_val_split`
- :class:`ImgbenchError` -- base of every error caused by bad input
"""

import os as _os

# OpenBLAS keeps its worker threads spinning for ~2**28 cycles after every matrix
# product by default.  The NumPy engine splits its large copies over the cores
# between products, and a spinning BLAS thread would hold the core they need.
# Effective only when imgbench is imported before NumPy (the CLI, the benchmarks).
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from .data import (  # noqa: E402Augmenter, BatchIterator, Dataset, Normalizer, describe, load_dataset,
                   train_val_split)
from .errors import ImgbenchError

__version__ = "0.1.0"

__all__ = ["Augmenter", "BatchIterator", "Dataset", "ImgbenchError", "Normalizer", "__version__",
           "describe", "load_dataset", "train_val_split"]
