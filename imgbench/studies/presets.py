"""Preset studies, each reproducing a classic comparison (``imgbench compare --preset NAME``).

Where the classic study published figures, they sit in ``reported`` and the
report prints them beside ours.  They are the figures as those studies
reported them (rounded), not something imgbench measured.
"""

from __future__ import annotations

from ..errors import ImgbenchError
from .studyfile import Study, parse_study

_CLASSIC = "as reported by the classic study this preset reproduces (rounded)"

PRESETS: dict[str, dict] = {
    "quick": {
        "name": "quick",
        "description": "Every engine x {mlp, cnn-tiny} on the embedded 8x8 digits, 3 seeds: a whole study in "
        "about a minute, no download. cnn-tiny is cnn-small with 3x3 'same' convolutions, so it "
        "fits 8x8 images without upscaling.",
        "datasets": ["digits"],
        "models": ["mlp", "cnn-tiny"],
        "engines": ["numpy", "torch", "keras"],
        "seeds": [0, 1, 2],
        "train": {"epochs": 15, "batch_size": 64},
    },
    "numpy-to-tensors": {
        "name": "numpy-to-tensors",
        "description": "From NumPy to tensors on CIFAR-10: a fully-connected network written from scratch in "
        "NumPy, the same network in Keras/TensorFlow, and a Keras CNN. The classic study's "
        "NumPy network stalled near chance (10%); imgbench's must not.",
        "groups": [
            {"datasets": ["cifar10"], "models": ["mlp"], "engines": ["numpy", "keras"]},
            {"datasets": ["cifar10"], "models": ["keras-convnet"], "engines": ["keras"]},
        ],
        "seeds": [0, 1, 2],
        "train": {"epochs": 15, "batch_size": 128, "lr": 2e-3},
        "reported": {
            "source": _CLASSIC,
            "rows": [
                {"dataset": "cifar10", "model": "mlp", "engine": "numpy", "accuracy": 0.10},
                {"dataset": "cifar10", "model": "mlp", "engine": "keras", "accuracy": 0.50},
                {"dataset": "cifar10", "model": "keras-convnet", "engine": "keras", "accuracy": 0.75},
            ],
        },
    },
    "ann-vs-cnn": {
        "name": "ann-vs-cnn",
        "description": "A fully-connected network against a CNN with the same number of parameters: about "
        "128k vs 125k on Fashion-MNIST and 256k vs 250k on CIFAR-10 (Keras engine).",
        "groups": [
            {"datasets": ["fashion-mnist"], "models": ["ann-128k", "cnn-125k"], "engines": ["keras"]},
            {"datasets": ["cifar10"], "models": ["ann-256k", "cnn-250k"], "engines": ["keras"]},
        ],
        "seeds": [0, 1, 2],
        "train": {"epochs": 10, "batch_size": 128},
        "reported": {
            "source": _CLASSIC,
            "rows": [
                {
                    "dataset": "fashion-mnist",
                    "model": "ann-128k",
                    "accuracy": 0.88,
                    "f1_macro": 0.87,
                    "training_seconds": 30,
                },
                {
                    "dataset": "fashion-mnist",
                    "model": "cnn-125k",
                    "accuracy": 0.89,
                    "f1_macro": 0.88,
                    "training_seconds": 25,
                },
                {"dataset": "cifar10", "model": "ann-256k", "accuracy": 0.47, "f1_macro": 0.45},
                {"dataset": "cifar10", "model": "cnn-250k", "accuracy": 0.48, "f1_macro": 0.46},
            ],
        },
    },
    "mnist-numpy-vs-tf": {
        "name": "mnist-numpy-vs-tf",
        "description": "MNIST: a NumPy network from scratch, the same deep fully-connected network in "
        "TensorFlow (Keras), and a Keras CNN.",
        "groups": [
            {"datasets": ["mnist"], "models": ["mlp"], "engines": ["numpy", "keras"]},
            {"datasets": ["mnist"], "models": ["keras-convnet"], "engines": ["keras"]},
        ],
        "seeds": [0, 1, 2],
        "train": {"epochs": 5, "batch_size": 128},
    },
    "cnn-mnist": {
        "name": "cnn-mnist",
        "description": "The classic MNIST CNN (conv 16@5x5, pool, conv 32@5x5, pool, dense 64, dense 10), "
        "5 epochs, batch 128, Adam at 1e-3, in every engine; with confusion matrices and the "
        "per-class classification report.",
        "datasets": ["mnist"],
        "models": ["cnn-small"],
        "engines": ["numpy", "torch", "keras"],
        "seeds": [0],
        "train": {"epochs": 5, "batch_size": 128, "lr": 1e-3, "optimizer": "adam", "schedule": "constant"},
    },
}


def preset(name: str) -> Study:
    """The preset study called ``name``."""
    if name not in PRESETS:
        raise ImgbenchError(f"unknown preset '{name}': expected one of {', '.join(PRESETS)}")
    return parse_study(PRESETS[name], f"preset {name}")
