"""imgbench's training loop with the PyTorch engine against a plain hand-written PyTorch loop.

Usage: python benchmarks/loop_overhead.py [--datasets ../shared/datasets] [--model cnn-small] [--repeats 3]

Both train the same model on the same normalised batches (imgbench's seeded
BatchIterator), with Adam at a constant learning rate, and both evaluate the
validation split after the epoch, so they do the same work.  They alternate
and the fastest epoch of each counts.  Prints the epoch times and imgbench's
overhead in percent (target: within 10%).

The overhead is measured with the engine in PyTorch's default NCHW layout,
like the plain loop, so that it is the loop's and adapter's cost alone.  A
third row shows the engine as ``imgbench train`` runs it (channels-last for
convolutional models), which is faster than the plain loop.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402
from _common import training_parser  # noqa: E402

import imgbench  # noqa: E402,F401
from imgbench.data import load_dataset  # noqa: E402
from imgbench.engines.torch import TorchEngine, build_torch_model  # noqa: E402
from imgbench.specs import build_spec  # noqa: E402
from imgbench.training import TrainConfig, TrainingLoop  # noqa: E402


def plain_epoch(model, loop: TrainingLoop, epoch: int) -> float:
    """What a user writes by hand: the textbook loop over the same batches, then validation."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    X_val = torch.from_numpy(loop.normalizer(loop.X_val))
    t = time.perf_counter()
    model.train()
    for Xb, yb in loop.batches.epoch(epoch):
        opt.zero_grad()
        loss = loss_fn(model(torch.from_numpy(Xb)), torch.from_numpy(yb))
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        for i in range(0, len(X_val), 256):
            model(X_val[i : i + 256])
    return time.perf_counter() - t


def main() -> None:
    ap = training_parser(__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ds = load_dataset(args.dataset, root=args.datasets, offline=True)
    spec = build_spec(args.model, ds.image_shape, ds.num_classes)
    cfg = TrainConfig(epochs=1, batch_size=args.batch_size, lr=1e-3, schedule="constant")
    ours, plain, default = [], [], []
    for r in range(args.repeats):
        for layout, times in ((False, ours), (None, default)):
            loop = TrainingLoop(TorchEngine(spec, seed=r, device="cpu", channels_last=layout), ds, cfg)
            t = time.perf_counter()
            loop.run()
            times.append(time.perf_counter() - t)
        plain.append(plain_epoch(build_torch_model(spec, seed=r), loop, 0))
    best_ours, best_plain = min(ours), min(plain)
    print(
        f"{args.model} on {args.dataset}, batch {args.batch_size}, one epoch + validation, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; fastest of {args.repeats} alternating"
    )
    print(f"{'loop':<28} {'seconds':>8}   all runs")
    print("-" * 60)
    print(f"{'plain hand-written PyTorch':<28} {best_plain:>8.2f}   {', '.join(f'{t:.2f}' for t in plain)}")
    print(f"{'imgbench TrainingLoop, NCHW':<28} {best_ours:>8.2f}   {', '.join(f'{t:.2f}' for t in ours)}")
    print(f"{'imgbench train (default)':<28} {min(default):>8.2f}   {', '.join(f'{t:.2f}' for t in default)}")
    print(f"\nimgbench overhead: {100 * (best_ours / best_plain - 1):+.1f}%  (target: within 10%)")


if __name__ == "__main__":
    main()
