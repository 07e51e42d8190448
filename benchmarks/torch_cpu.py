"""PyTorch engine training speed by memory layout and precision, side by side in one run.

Usage: python benchmarks/torch_cpu.py [--models resnet-small,vgg-small,cnn-small] [--batch-size 128]
       [--steps 12] [--rounds 3]

For each model, three variants of the engine's own ``fit_batch`` (SGD,
the same random batch) run in turn, round-robin, ``--rounds`` times:
NCHW fp32 (PyTorch's default layout), channels-last fp32 (the engine's
default for convolutional models since it is faster on oneDNN) and
channels-last with bf16 autocast (``--precision bf16``).  The median step
time of each, with its quartiles (imgbench.evaluation's timing functions), is
reported as seconds per 45,000-image epoch (CIFAR-10's training part after the
10% validation split) and as a speed-up over NCHW fp32.  Round-robin
measurement keeps the ratios honest on a noisy machine.  bf16 is fast only
where the CPU has AVX-512 BF16 or AMX; elsewhere it can be slower than fp32, and the table shows it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from imgbench.engines.torch.engine import TorchEngine  # noqa: E402
from imgbench.evaluation import repeat_timing, timing_summary  # noqa: E402
from imgbench.specs import build_spec  # noqa: E402

SHAPES = {"cnn-small": [1, 28, 28], "cnn-tiny": [1, 28, 28], "lenet5": [1, 28, 28]}  # others: CIFAR-10's
VARIANTS = [("NCHW fp32", False, "fp32"), ("NHWC fp32", True, "fp32"), ("NHWC bf16", True, "bf16")]
EPOCH_IMAGES = 45_000


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet-small,vgg-small,cnn-small")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=12, help="timed steps per variant and round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, batch {args.batch_size}\n"
    )
    print(f"{'model':<14} {'variant':<10} {'ms/step':>8} {'quartiles':<13} {'s/epoch':>8} {'speed-up':>9}")
    rng = np.random.default_rng(0)
    for model in args.models.split(","):
        spec = build_spec(model, SHAPES.get(model, [3, 32, 32]), 10)
        X = rng.standard_normal((args.batch_size, *spec["input_shape"]), dtype=np.float32)
        y = rng.integers(0, 10, args.batch_size)
        engines = [
            TorchEngine(spec, optimizer="sgd", lr=0.01, device="cpu", channels_last=cl, precision=p)
            for _, cl, p in VARIANTS
        ]
        for e in engines:
            for _ in range(3):  # warm-up: oneDNN picks and caches its kernels
                e.fit_batch(X, y)
        times = [[] for _ in engines]
        for _ in range(args.rounds):
            for e, t in zip(engines, times, strict=True):
                t += repeat_timing(lambda e=e, X=X, y=y: e.fit_batch(X, y), 0.0, args.steps, warmup=0)["times"]
        base = timing_summary(times[0])["median"]
        for (label, _, _), t in zip(VARIANTS, times, strict=True):
            s = timing_summary(t)
            med = s["median"]
            print(
                f"{model:<14} {label:<10} {med * 1e3:8.1f} {s['q25'] * 1e3:6.1f}-{s['q75'] * 1e3:<6.1f} "
                f"{med * EPOCH_IMAGES / args.batch_size:8.1f} {base / med:8.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
