"""Dataset loading times: MNIST from .gz, CIFAR-10 image folder cold and cached.

Usage: python benchmarks/data_loading.py [--datasets ../shared/datasets] [--repeats 5]

Prints one table.  Cold decoding uses a fresh temporary cache; "cached" is
the same load again; "CLI cached" is a whole `imgbench data info --json`
process (start-up, imports and pixel statistics included), which is what the
foundation issue's under-2-s target is about.  Each repeated row is the median
of at least --repeats loads and one second of them, after one warm-up load
(imgbench.evaluation.repeat_timing), with the quartiles beside it.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    root = Path(args.datasets)
    os.environ["IMGBENCH_OFFLINE"] = "1"
    os.environ["IMGBENCH_CACHE"] = tempfile.mkdtemp(prefix="imgbench-bench-")
    from imgbench.data import load_dataset
    from imgbench.evaluation import repeat_timing

    def timed(fn) -> tuple[float, str]:
        t = repeat_timing(fn, min_repeats=args.repeats)
        return t["median"], f"{t['q25']:.3f}-{t['q75']:.3f} ({t['repeats']})"

    rows = []
    for name in ("mnist", "fashion-mnist"):
        t, spread = timed(lambda name=name: load_dataset(name, root=root))
        rows.append((f"{name} from .gz (load_dataset)", t, spread, "< 1 s" if name == "mnist" else ""))
    folder = f"folder:{root / 'cifar10-jpg'}"
    t0 = time.perf_counter()
    load_dataset(folder)
    rows.append(("cifar10-jpg folder, cold (decode 60,000 JPEGs)", time.perf_counter() - t0, "once", "measure"))
    rows.append(("cifar10-jpg folder, cached (load_dataset)", *timed(lambda: load_dataset(folder)), ""))
    cmd = [sys.executable, "-m", "imgbench", "data", "info", folder, "--json"]
    t, spread = timed(lambda: subprocess.run(cmd, check=True, capture_output=True))
    rows.append(("cifar10-jpg `imgbench data info --json`, cached", t, spread, "< 2 s"))

    print(f"{'what':<52} {'seconds':>8}  {'quartiles (runs)':<20} target")
    print("-" * 92)
    for what, secs, spread, target in rows:
        print(f"{what:<52} {secs:>8.3f}  {spread:<20} {target}")
    print(f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; medians after a warm-up, except the cold run")


if __name__ == "__main__":
    main()
