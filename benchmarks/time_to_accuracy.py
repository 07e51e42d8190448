"""Time to accuracy: seconds of training until a preset's runs first reach a target test accuracy, per engine.

DAWNBench's measure (Coleman et al. 2017, "time to 94% test accuracy" on CIFAR-10): every run of a study preset
(default ``mnist-speedrun``) trains one at a time, as ``imgbench compare`` would train it, and after each epoch
the test split is scored, off the clock.  A run's time to accuracy is its training seconds (the sum of its
epochs' times, one-time start-up included) up to the first epoch that reaches the target.  One row per model and
engine: the mean over the seeds that reached it and how many did, the mean epochs it took, and each run's final
accuracy and whole training time, with the machine's load average beside the table (timings on a busy machine
are not comparable).

    python benchmarks/time_to_accuracy.py                               # mnist-speedrun, 99%
    python benchmarks/time_to_accuracy.py --preset cnn-mnist --target 0.985
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from _common import REPO

from imgbench.runs.runner import train_run
from imgbench.studies.presets import preset
from imgbench.studies.studyfile import plan_runs
from imgbench.training.callbacks import Callback
from imgbench.training.loop import accuracy_on_test


class TestAccuracyEachEpoch(Callback):
    """Scores the test split after every epoch (after the epoch's time was taken) and keeps
    ``(training seconds so far, test accuracy)`` per epoch."""

    def __init__(self) -> None:
        self.loop = None
        self.points: list[tuple[float, float]] = []

    def on_train_begin(self, loop) -> None:
        self.loop = loop

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        elapsed = (self.points[-1][0] if self.points else 0.0) + row["seconds"]
        self.points.append((elapsed, accuracy_on_test(self.loop.engine, self.loop.ds, self.loop.normalizer)))


@dataclass
class Row:
    """The runs of one model and engine."""

    label: str
    to_target: list[tuple[float, int]] = field(default_factory=list)  # (seconds, epochs) of runs that reached it
    final: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def time_to(points: list[tuple[float, float]], target: float) -> tuple[float, int] | None:
    """``(seconds, epochs)`` at the first epoch whose test accuracy is at least ``target``; None if none is."""
    for epoch, (seconds, accuracy) in enumerate(points, 1):
        if accuracy >= target:
            return seconds, epoch
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mnist-speedrun")
    ap.add_argument("--target", type=float, default=0.99, help="test accuracy to reach (default 0.99)")
    ap.add_argument("--root", default=str(REPO.parent / "shared" / "datasets"), help="datasets folder")
    ap.add_argument("--engines", help="only these engines (comma-separated)")
    ap.add_argument("--seeds", help="only these seeds (comma-separated)")
    args = ap.parse_args()
    study = preset(args.preset)
    rows: dict[str, Row] = {}
    with tempfile.TemporaryDirectory(prefix="time-to-accuracy-") as out:
        planned, _ = plan_runs(study, args.root, Path(out) / "runs")
        for run in planned:
            s = run.settings
            if args.engines and s.engine not in args.engines.split(","):
                continue
            if args.seeds and str(s.train.seed) not in args.seeds.split(","):
                continue
            probe = TestAccuracyEachEpoch()
            train_run(s, exact_name=True, extra_callbacks=[probe])
            row = rows.setdefault(f"{s.model} / {s.engine}", Row(f"{s.model} / {s.engine}"))
            reached = time_to(probe.points, args.target)
            if reached:
                row.to_target.append(reached)
            row.final.append(probe.points[-1][1])
            row.seconds.append(probe.points[-1][0])
            when = f"{reached[0]:.1f} s (epoch {reached[1]})" if reached else "not reached"
            print(f"{run.key}: {args.target:.1%} {when}; final {probe.points[-1][1]:.2%}", file=sys.stderr, flush=True)
    print(f"\n{args.preset}: seconds of training to {args.target:.1%} test accuracy (load {os.getloadavg()[0]:.2f})\n")
    print(f"| model / engine | reached | seconds to {args.target:.1%} | epochs | final accuracy | training s |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows.values():
        n = len(row.final)
        seconds = f"{statistics.mean(t for t, _ in row.to_target):.1f}" if row.to_target else "-"
        epochs = f"{statistics.mean(e for _, e in row.to_target):.1f}" if row.to_target else "-"
        spread = f" ± {statistics.stdev(row.final):.2%}" if n > 1 else ""
        print(
            f"| {row.label} | {len(row.to_target)}/{n} | {seconds} | {epochs} | "
            f"{statistics.mean(row.final):.2%}{spread} | {statistics.mean(row.seconds):.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
