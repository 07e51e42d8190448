"""What the report reads from run directories: one record per finished run, grouped by dataset, model and engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..data import short_name
from ..errors import ImgbenchError
from ..fileio import read_json, read_yaml
from ..runs.health import unfinished_reason
from ..runs.predictions import read_predictions
from ..training.history import read_history

ENV_KEYS = (
    "imgbench",
    "python",
    "platform",
    "machine",
    "cpu_count",
    "numpy",
    "torch",
    "torch_threads",
    "tensorflow",
    "keras",
    "device",
    "gpu",
    "blas",
    "git_revision",
)


@dataclass
class RunRecord:
    """What the report needs from one finished run directory."""

    path: Path
    config: dict
    metrics: dict
    history: list[dict]
    env: dict

    @property
    def dataset(self) -> str:
        return short_name(self.metrics.get("dataset") or self.config["dataset"])

    @property
    def model(self) -> str:
        return self.metrics.get("model") or self.config["spec"]["name"]

    @property
    def engine(self) -> str:
        return self.config["engine"]

    @property
    def seed(self) -> int:
        return int(self.config.get("train", {}).get("seed", 0))

    @property
    def variant(self) -> str | None:
        return self.config.get("variant")

    @property
    def label(self) -> str:
        return label_of(self.model, self.engine, self.variant)

    @cached_property
    def predictions(self) -> dict[str, np.ndarray]:
        """``y_true`` and ``probs`` from predictions.npz, read once however many sections use them."""
        return read_predictions(self.path)


def label_of(model: str, engine: str, variant: str | None = None) -> str:
    """How the report names a group of runs: ``cnn-small / torch``, or ``cnn-small / torch / transfer``."""
    return f"{model} / {engine}" + (f" / {variant}" if variant else "")


@dataclass
class Group:
    """The runs of one (dataset, model, engine, variant), one per seed."""

    dataset: str
    model: str
    engine: str
    variant: str | None = None
    runs: list[RunRecord] = field(default_factory=list)

    @property
    def label(self) -> str:
        return label_of(self.model, self.engine, self.variant)

    def values(self, key: str) -> list[float]:
        return [float(r.metrics[key]) for r in self.runs if r.metrics.get(key) is not None]

    def correct(self) -> dict[int, np.ndarray]:
        """Each seed's correctness on the test images (``correct[seed][image]``), for the seeds x images statistics.

        Raises ImgbenchError when a run's predictions.npz cannot be read, or when two runs share a seed (the
        statistics pair runs by seed number, so a repeated seed would silently count once)."""
        seeds = [r.seed for r in self.runs]
        if len(set(seeds)) != len(seeds):
            raise ImgbenchError(f"{self.label} on {self.dataset}: several runs with the same seed ({seeds})")
        return {r.seed: r.predictions["probs"].argmax(1) == r.predictions["y_true"] for r in self.runs}


def load_records(run_dirs) -> tuple[list[RunRecord], list[str]]:
    """Finished runs among ``run_dirs`` and a note for every directory left out."""
    records, skipped = [], []
    for d in run_dirs:
        d = Path(d)
        if not d.is_dir() or not ((d / "config.yaml").exists() or (d / "metrics.json").exists()):
            raise ImgbenchError(f"{d}: not a run directory (no config.yaml)")
        reason = unfinished_reason(d)  # unfinished, or damaged (a torn metrics.json, a missing file)
        if reason:
            skipped.append(f"{reason}; left out")
            continue
        env_path = d / "env.json"
        records.append(
            RunRecord(
                d,
                read_yaml(d / "config.yaml", "run config"),
                read_json(d / "metrics.json"),
                read_history(d / "history.csv") if (d / "history.csv").exists() else [],
                read_json(env_path) if env_path.exists() else {},
            )
        )
    if not records:
        raise ImgbenchError("no finished runs to report on" + (": " + "; ".join(skipped) if skipped else ""))
    return records, skipped


def group_runs(records: list[RunRecord]) -> dict[str, list[Group]]:
    """Groups per dataset, in the order the runs came."""
    by_key: dict[tuple, Group] = {}
    for r in records:
        key = (r.dataset, r.model, r.engine, r.variant)
        by_key.setdefault(key, Group(*key)).runs.append(r)
    out: dict[str, list[Group]] = {}
    for g in by_key.values():
        g.runs.sort(key=lambda r: r.seed)
        out.setdefault(g.dataset, []).append(g)
    return out


def environments(records: list[RunRecord]) -> list[dict]:
    """The distinct environments the runs ran in (usually one)."""
    seen, out = set(), []
    for r in records:
        env = {k: r.env[k] for k in ENV_KEYS if r.env.get(k) is not None}
        key = repr(sorted(env.items()))
        if key not in seen:
            seen.add(key)
            out.append(env)
    return out


def git_revisions(records: list[RunRecord]) -> list[str]:
    """The distinct git revisions of imgbench that trained the runs, in run order (none outside a checkout)."""
    return list(dict.fromkeys(r.env["git_revision"] for r in records if r.env.get("git_revision")))


def run_rows(records: list[RunRecord]) -> list[dict]:
    """One row per run for the report's table of runs."""
    return [
        {
            "name": r.path.name,
            "path": str(r.path),
            "dataset": r.dataset,
            "label": r.label,
            "seed": r.seed,
            "accuracy": r.metrics["accuracy"],
            "f1_macro": r.metrics["f1_macro"],
            "training_seconds": r.metrics.get("training_seconds", 0.0),
            "epochs": r.metrics.get("epochs_trained"),
        }
        for r in records
    ]
