"""imgbench: an image-classification workbench.

The same networks written from scratch in NumPy, in PyTorch and in
Keras/TensorFlow, trained on the same data and batches, compared honestly.

Public API (stable names; the CLI is a thin layer over these):

- :func:`load_dataset` -- MNIST, Fashion-MNIST, CIFAR-10, digits, ``folder:PATH``, ``csv:PATH``
- :class:`Dataset` -- uint8 NCHW images, int64 labels, class names
- :func:`describe` -- per-split counts and pixel statistics of a dataset
- :class:`BatchIterator`, :class:`Normalizer`, :class:`Augmenter`, :func:`train_val_split`
- :class:`ImgbenchError` -- base of every error caused by bad input
- :func:`build_spec`, :func:`create_engine` -- a zoo model as a spec, an engine (numpy, torch, keras) from it
- :class:`RunSettings`, :func:`train`, :func:`resume`, :func:`evaluate`, :func:`predict` -- run directories
  (``predict`` also takes an exported ``.onnx`` or ``.tflite`` file)
- :func:`predict_csv`, :func:`save_predictions` -- a Kaggle CSV's rows, and predictions (or a submission) to a file
- :func:`load_study`, :func:`preset`, :func:`compare`, :func:`report` -- comparative studies and their report
- :func:`visualize`, :func:`walkthrough` -- figures of a trained run and the convolution exercise
"""

import os as _os

# OpenBLAS keeps its worker threads spinning for ~2**28 cycles after every matrix
# product by default.  The NumPy engine splits its large copies over the cores
# between products, and a spinning BLAS thread would hold the core they need.
# Effective only when imgbench is imported before NumPy (the CLI, the benchmarks).
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from .data import (
    Augmenter,
    BatchIterator,
    Dataset,
    Normalizer,
    describe,
    load_dataset,  # noqa: E402
    train_val_split,
)
from .errors import ImgbenchError  # noqa: E402

__version__ = "0.1.0"

# Training, studies and figures are loaded on first use, so ``import imgbench`` stays light.
# "public name: module.attribute", one per line.
_LAZY_SPEC = """
RunSettings: runs.runner.RunSettings
train: runs.runner.train_run
resume: runs.runner.resume_run
evaluate: runs.runner.evaluate_run
predict: runs.predict.predict_images
predict_csv: runs.predict.predict_csv
save_predictions: runs.submission.save_predictions
build_spec: specs.build_spec
create_engine: engines.create_engine
load_study: studies.studyfile.load_study
preset: studies.presets.preset
compare: studies.compare.run_study
report: studies.report.write_report
visualize: runs.visualize.visualize_run
walkthrough: runs.visualize.walkthrough
"""
_LAZY = {
    public: tuple(target.strip().rsplit(".", 1))
    for public, target in (line.split(":") for line in _LAZY_SPEC.strip().splitlines())
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'imgbench' has no attribute '{name}'")


__all__ = [
    "Augmenter",
    "BatchIterator",
    "Dataset",
    "ImgbenchError",
    "Normalizer",
    "__version__",
    "describe",
    "load_dataset",
    "train_val_split",
    *_LAZY,
]
