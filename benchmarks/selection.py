"""Checkpoint selection: the seed spread of test accuracy under each ``--select`` rule.

Which epoch's weights a run keeps (``train.select``) does not change how it trains, only what it
evaluates.  So every run of a preset is trained once, as the study would train it, and a probe scores
the test split after every epoch; each rule then picks its epoch from the validation history (exactly as
the run writer does: the first epoch with the strictly best value, or the last).  The run's own
``metrics.json`` is checked against the probe's figure for the rule it was trained with, so the table
describes real runs.  Prints, per model and engine, the mean and the std across seeds of test accuracy
under each rule, and the mean std per rule.

    python benchmarks/selection.py --preset quick
    python benchmarks/selection.py --preset ann-vs-cnn --dataset fashion-mnist --root ../shared/datasets
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from imgbench.runs.runner import train_run
from imgbench.settings import SELECTIONS
from imgbench.studies.presets import preset
from imgbench.studies.studyfile import plan_runs
from imgbench.training import Callback
from imgbench.training.callbacks import improved


class TestProbe(Callback):
    """Scores the test split after every epoch (for this measurement only: never in a real run)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_train_begin(self, loop) -> None:
        self.loop = loop
        self.X_test = loop.normalizer(loop.ds.X_test)

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        logits = self.loop.engine.predict_logits(self.X_test)
        test_acc = float(np.mean(np.argmax(logits, axis=1) == self.loop.ds.y_test))
        self.rows.append({"val_acc": row["val_acc"], "val_loss": row["val_loss"], "test_acc": test_acc})


def picked_epoch(rows: list[dict], rule: str) -> int:
    """The epoch (0-based) whose weights ``rule`` keeps: the run writer's own comparison, epoch by epoch."""
    monitor = SELECTIONS[rule]
    if monitor is None:
        return len(rows) - 1
    best, chosen = None, 0
    for i, row in enumerate(rows):
        if improved(row[monitor], best, monitor):
            best, chosen = row[monitor], i
    return chosen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--dataset", action="append", help="keep only this dataset's runs (repeatable)")
    ap.add_argument("--root", help="folder of the datasets (e.g. ../shared/datasets)")
    ap.add_argument("--out", help="runs directory (default: a temporary one)")
    args = ap.parse_args()

    out = Path(args.out or tempfile.mkdtemp(prefix="selection-"))
    planned, _ = plan_runs(preset(args.preset), root=args.root, runs_dir=out)
    if args.dataset:
        planned = [p for p in planned if p.dataset_label in args.dataset]
    start = time.perf_counter()
    picks: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    late = defaultdict(int)  # runs whose rule keeps an epoch before the last
    for p in planned:
        probe = TestProbe()
        run = train_run(p.settings, exact_name=True, extra_callbacks=[probe])
        metrics = json.loads((run / "metrics.json").read_text())
        own = probe.rows[picked_epoch(probe.rows, p.settings.train.select)]["test_acc"]
        if abs(metrics["accuracy"] - own) > 1e-9:
            sys.exit(f"{run}: metrics.json says {metrics['accuracy']}, the probe {own}: the table would be wrong")
        group = (p.dataset_label, p.settings.model, p.settings.engine)
        for rule in SELECTIONS:
            epoch = picked_epoch(probe.rows, rule)
            picks[group][rule].append(probe.rows[epoch]["test_acc"])
            late[rule] += epoch < len(probe.rows) - 1
        print(f"{p.key}: " + ", ".join(f"{r} {picks[group][r][-1]:.4f}" for r in SELECTIONS), file=sys.stderr)

    rules = list(SELECTIONS)
    print(f"\n{args.preset}: test accuracy, mean ± std across seeds (ddof 1), in % ({len(planned)} runs)\n")
    print("| dataset | model | engine | " + " | ".join(rules) + " |")
    print("|---|---|---|" + "---|" * len(rules))
    stds: dict[str, list[float]] = defaultdict(list)
    for (dataset, model, engine), by_rule in picks.items():
        cells = []
        for rule in rules:
            accs = by_rule[rule]
            sd = statistics.stdev(accs) if len(accs) > 1 else float("nan")
            stds[rule].append(sd)
            cells.append(f"{100 * statistics.mean(accs):.2f} ± {100 * sd:.2f}")
        print(f"| {dataset} | {model} | {engine} | " + " | ".join(cells) + " |")
    print("| **mean std** | | | " + " | ".join(f"**{100 * statistics.mean(stds[r]):.2f}**" for r in rules) + " |")
    kept_earlier = " | ".join(f"{late[r]} of {len(planned)}" for r in rules)
    print(f"| runs keeping an epoch before the last | | | {kept_earlier} |")
    print(f"\nwall time {time.perf_counter() - start:.0f} s; runs in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
