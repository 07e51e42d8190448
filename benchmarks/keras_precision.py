"""The Keras engine's training step in fp32 and in bf16 mixed precision, side by side in one process.

Usage: python benchmarks/keras_precision.py [--models vgg-small,resnet-small] [--batch-size 128] [--rounds 7]

Each model is built twice from the same spec (imgbench's own builder, ``precision`` fp32 and bf16: Keras's
``mixed_bfloat16`` policy), compiled with SGD and trained on one random batch of CIFAR-10-sized images;
after two warm-up steps each the two alternate, three steps a round, and the median step of ``--rounds``
rounds counts.  Prints a table with the seconds per step, per 45,000-image epoch and the ratio.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import imgbench  # noqa: E402,F401  (first: it configures OpenBLAS before NumPy loads)
from imgbench.specs import build_spec  # noqa: E402

PRECISIONS = ("fp32", "bf16")
EPOCH_IMAGES = 45_000


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="vgg-small,resnet-small")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()

    import keras

    from imgbench.engines.keras.model import build_keras_model

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.batch_size, 32, 32, 3)).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.batch_size)]
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}, batch {args.batch_size}\n")
    print("| model | fp32 s / step | bf16 s / step | fp32 s / epoch | bf16 s / epoch | bf16 speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.models.split(","):
        spec = build_spec(name, [3, 32, 32], 10)
        models = {}
        for precision in PRECISIONS:
            model = build_keras_model(spec, seed=0, precision=precision)
            model.compile(
                optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            )
            for _ in range(2):  # the first call traces and compiles the step
                model.train_on_batch(X, Y)
            models[precision] = model
        steps: dict[str, list[float]] = {p: [] for p in PRECISIONS}
        for _ in range(args.rounds):
            for precision, model in models.items():
                t = time.perf_counter()
                for _ in range(3):
                    model.train_on_batch(X, Y)
                steps[precision].append((time.perf_counter() - t) / 3)
        fp32, bf16 = (float(np.median(steps[p])) for p in PRECISIONS)
        per_epoch = EPOCH_IMAGES / args.batch_size
        print(
            f"| `{name}` | {fp32:.3f} | {bf16:.3f} | {fp32 * per_epoch:.1f} | {bf16 * per_epoch:.1f} | "
            f"{fp32 / bf16:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
