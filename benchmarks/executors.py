"""Executors: the same 12-run ``digits`` study on local worker processes and on Ray, side by side.

Each repeat trains the study three ways, in turns (so a change in the machine's load falls on all three):
``local`` with ``--workers 2``; ``ray`` with ``--workers 2`` as ``compare --executor ray`` runs it, starting a
local Ray with 2 CPUs and stopping it (the whole cost a user sees); and ``ray`` on a Ray already running (the
cost of the tasks alone).  Every repeat trains into a fresh folder.  Prints the median wall time of each with
its quartiles, Ray's overhead in % against the local executor, the machine's load average, and checks that
every run's test accuracy is the same under both executors.

    python benchmarks/executors.py                 # 2 repeats, 10 epochs per run
    python benchmarks/executors.py --repeats 3 --epochs 5

Ray runs with token authentication and usage statistics off and its session files in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from imgbench.evaluation.timing import timing_summary
from imgbench.studies.compare import run_study
from imgbench.studies.studyfile import Study, parse_study

WORKERS = 2
OBJECT_STORE = 100 * 2**20


def study(epochs: int) -> Study:
    """12 runs: two models x 6 seeds on the embedded digits, NumPy engine."""
    return parse_study(
        {
            "name": "executors",
            "datasets": ["digits"],
            "models": ["mlp", "cnn-tiny"],
            "engines": ["numpy"],
            "seeds": list(range(6)),
            "train": {"epochs": epochs, "batch_size": 64},
        }
    )


def accuracies(out: Path) -> dict[str, float]:
    return {p.parent.name: json.loads(p.read_text())["accuracy"] for p in out.glob("runs/*/metrics.json")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="executors-", dir="/tmp"))  # short: Ray's socket paths must fit
    os.environ.update(RAY_TMPDIR=str(scratch), RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    import ray

    s = study(args.epochs)
    # (executor, start Ray before timing): with False, run_study starts a local Ray with this machine's CPUs.
    ways = {
        f"local, {WORKERS} worker processes": ("local", False),
        f"ray, {WORKERS} CPUs, started by compare": ("ray", False),
        f"ray, {WORKERS} CPUs, already running": ("ray", True),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    loads, results = [], {}
    try:
        for repeat in range(args.repeats):
            for i, (name, (executor, running)) in enumerate(ways.items()):
                out = scratch / f"study-{repeat}-{i}"
                if running:
                    ray.init(num_cpus=WORKERS, object_store_memory=OBJECT_STORE, include_dashboard=False)
                loads.append(os.getloadavg()[0])
                t = time.perf_counter()
                run_study(s, out, workers=WORKERS, report=False, quiet=True, executor=executor)
                times[name].append(time.perf_counter() - t)
                if running:
                    ray.shutdown()
                results[name] = accuracies(out)
                shutil.rmtree(out)
                print(f"repeat {repeat + 1}: {name}: {times[name][-1]:.1f} s", file=sys.stderr)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)

    base = timing_summary(times[next(iter(ways))])["median"]
    print(f"\n12 runs (mlp, cnn-tiny x 6 seeds, numpy, digits, {args.epochs} epochs), {args.repeats} repeats each\n")
    print("| executor | median s | q25-q75 s | overhead |")
    print("|---|---:|---:|---:|")
    for name in ways:
        t = timing_summary(times[name])
        print(
            f"| {name} | {t['median']:.1f} | {t['q25']:.1f}-{t['q75']:.1f} | {100 * (t['median'] / base - 1):+.1f}% |"
        )
    same = len({json.dumps(r, sort_keys=True) for r in results.values()}) == 1
    print(f"\nevery run's test accuracy identical under all three: {'yes' if same else 'NO'}")
    print(
        f"load average (1 min) at the start of each study: {min(loads):.1f} to {max(loads):.1f} "
        f"on {os.cpu_count()} cores"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
