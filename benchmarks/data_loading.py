"""Dataset loading times: MNIST from .gz, CIFAR-10 image folder cold and cached.

Usage: python benchmarks/data_loading.py [--datasets ../shared/datasets] [--repeats 5]

Prints one table.  Cold decoding uses a fresh temporary cache; "cached" is
the same load again; "CLI cached" is a whole `imgbench data info --json`
process (start-up, imports and pixel statistics included), which is what the
foundation issue's under-2-s target is about.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    root = Path(args.datasets)
    os.environ["IMGBENCH_OFFLINE"] = "1"
    os.environ["IMGBENCH_CACHE"] = tempfile.mkdtemp(prefix="imgbench-bench-")
    from imgbench.data import load_dataset

    rows = []
    for name in ("mnist", "fashion-mnist"):
        t = best_of(lambda name=name: load_dataset(name, root=root), args.repeats)
        rows.append((f"{name} from .gz (load_dataset)", t, "< 1 s" if name == "mnist" else ""))
    folder = f"folder:{root / 'cifar10-jpg'}"
    t0 = time.perf_counter()
    load_dataset(folder)
    rows.append(("cifar10-jpg folder, cold (decode 60,000 JPEGs)", time.perf_counter() - t0, "measure"))
    rows.append(("cifar10-jpg folder, cached (load_dataset)", best_of(lambda: load_dataset(folder), args.repeats), ""))
    cmd = [sys.executable, "-m", "imgbench", "data", "info", folder, "--json"]
    t = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True), args.repeats)
    rows.append(("cifar10-jpg `imgbench data info --json`, cached", t, "< 2 s"))

    print(f"{'what':<52} {'seconds':>8}  target")
    print("-" * 70)
    for what, secs, target in rows:
        print(f"{what:<52} {secs:>8.3f}  {target}")
    print(f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; best of {args.repeats} except the cold run")


if __name__ == "__main__":
    main()
