"""The run directory: one folder per training run, written atomically.

::

    runs/<name>/  config.yaml  env.json  history.csv  metrics.json  preprocess.json
                  weights/best.*  weights/last.*  checkpoint/  plots/
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..data import short_name
from ..errors import ImgbenchError
from ..fileio import writing
from ..settings import NAME_CHARS
from .lock import FileLock, LockHeldError, run_lock


def run_name(dataset: str, model: str, engine: str, variant: str | None = None) -> str:
    """A run's default name, ``<dataset>-<model>-<engine>[-<variant>]`` with the dataset's short name
    (``mnist.5-9@5-cnn-small-torch-transfer``); a study's runs add ``-seed<S>``."""
    return f"{short_name(dataset)}-{model}-{engine}" + (f"-{variant}" if variant else "")


def claim_run_dir(runs_dir: str | Path, name: str, exact: bool = False) -> tuple[Path, FileLock]:
    """Create ``runs_dir/name`` and take its lock; returns both (the caller releases the lock).

    A name that is taken gets ``name-2``, ``name-3``, ...; with ``exact`` it is an error instead (a study's
    runs have fixed names).  The lock is taken before the folder is made, so no other process ever sees
    the new folder without an owner.
    """
    if not re.fullmatch(f"[{NAME_CHARS}]+", name) or name.startswith("."):
        raise ImgbenchError(f"run name '{name}' may contain only letters, digits and . _ + @ - (no '.' first)")
    runs_dir = Path(runs_dir)
    with writing(runs_dir):
        runs_dir.mkdir(parents=True, exist_ok=True)
    for i in range(1, 10_000):
        path = runs_dir / (name if i == 1 else f"{name}-{i}")
        lock = run_lock(runs_dir, path.name)
        try:
            lock.acquire()
        except LockHeldError:
            if exact:
                raise
            continue
        try:
            with writing(path):
                path.mkdir()
            return path, lock
        except FileExistsError:
            lock.release()
            if exact:
                raise ImgbenchError(f"{path}: a run of this name exists already") from None
        except BaseException:
            lock.release()
            raise
    raise ImgbenchError(f"{runs_dir}: too many runs named '{name}'")


def git_revision() -> str | None:
    """The git commit of the imgbench source tree, when it is a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(engine, seed: int) -> dict:
    """Versions, device, threads, seed and git revision, for env.json."""
    from .. import __version__

    env = {
        "imgbench": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "engine": engine.name,
        "seed": seed,
        "git_revision": git_revision(),
        "command": sys.argv,
    }
    try:
        from threadpoolctl import threadpool_info

        env["blas"] = [
            {"api": i["internal_api"], "threads": i["num_threads"]}
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ]
    except ImportError:
        pass
    if "torch" in sys.modules:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    if "keras" in sys.modules:
        env["keras"] = sys.modules["keras"].__version__
        env["keras_backend"] = sys.modules["keras"].backend.backend()
    if "tensorflow" in sys.modules:
        env["tensorflow"] = sys.modules["tensorflow"].__version__
    device = getattr(engine, "device", None)
    env["device"] = str(device) if device is not None else "cpu"
    if env["device"].startswith("cuda"):
        import torch

        env["gpu"] = torch.cuda.get_device_name(0)
    return env
