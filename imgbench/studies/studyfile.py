"""Study files: which datasets x models x engines x seeds to train, with which settings.

A study is YAML::

    name: my-study
    description: what it shows
    seeds: [0, 1, 2]
    train: {epochs: 10, batch_size: 128}        # TrainConfig fields, for every run
    settings: {image_size: 32}                  # other RunSettings fields (optional)
    datasets: [fashion-mnist]                   # one group...
    models: [mlp, cnn-small]
    engines: [numpy, torch]
    groups:                                     # ...or several, each with its own lists
      - {datasets: [cifar10], models: [ann-256k, cnn-250k], engines: [keras], train: {epochs: 15}}
    reported:                                   # figures a classic study reported (optional)
      source: "where they come from"
      rows: [{dataset: cifar10, model: ann-256k, engine: keras, accuracy: 0.47, f1_macro: 0.45}]

Every run of a study gets a fixed name, ``<dataset>-<model>-<engine>-seed<S>``,
so running the study again finds the runs that are already finished.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import short_name
from ..engines import ENGINES
from ..errors import ImgbenchError
from ..fileio import read_yaml
from ..runs.runner import RunSettings
from ..training import TrainConfig

_LIST_KEYS = ("datasets", "models", "engines")
_TOP_KEYS = {"name", "description", "seeds", "train", "settings", "groups", "reported", "notes", "root", *_LIST_KEYS}
_GROUP_KEYS = {"train", "settings", "seeds", *_LIST_KEYS}
_SETTINGS_KEYS = {"image_size", "device", "threads", "deterministic", "precision", "early_stopping", "patience"}

# A named dataset missing under --root, and the image-folder copy of it used instead.
FOLDER_FALLBACKS = {"cifar10": "cifar10-jpg"}


@dataclass
class PlannedRun:
    """One run of a study: its fixed name and its settings."""

    key: str
    settings: RunSettings
    dataset_label: str


@dataclass
class Study:
    """A parsed study file (see the module docstring)."""

    name: str
    groups: list[dict]
    seeds: list[int] = field(default_factory=lambda: [0])
    train: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    description: str = ""
    reported: dict | None = None
    notes: list[str] = field(default_factory=list)
    root: str | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "seeds": self.seeds,
            "train": self.train,
            "settings": self.settings,
            "groups": self.groups,
            "reported": self.reported,
            "notes": self.notes,
            "root": self.root,
        }


def _fail(where: str, msg: str) -> ImgbenchError:
    return ImgbenchError(f"{where}: {msg}")


def _str_list(value, key: str, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise _fail(where, f"'{key}' must be a non-empty list of names, found {value!r}")
    return value


def _seeds(value, where: str) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    ):
        raise _fail(where, f"'seeds' must be a non-empty list of non-negative integers, found {value!r}")
    return value


def _train(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(where, f"'train' must be a mapping of training settings, found {value!r}")
    known = set(TrainConfig.__dataclass_fields__) - {"seed"}
    unknown = set(value) - known
    if unknown:
        raise _fail(where, f"unknown training settings {sorted(unknown)}; expected some of {sorted(known)}")
    return dict(value)


def _settings(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - _SETTINGS_KEYS:
        raise _fail(where, f"'settings' takes only {sorted(_SETTINGS_KEYS)}, found {value!r}")
    return dict(value)


def parse_study(data: object, where: str = "study") -> Study:
    """Validate a study mapping (from YAML or a preset) into a :class:`Study`."""
    if not isinstance(data, dict):
        raise _fail(where, "expected a mapping with name, datasets, models, engines and seeds")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}; expected some of {sorted(_TOP_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(where, "'name' must be a non-empty string")
    raw_groups = list(data.get("groups") or [])
    if any(k in data for k in _LIST_KEYS):
        raw_groups.insert(0, {k: data.get(k) for k in _LIST_KEYS})
    if not raw_groups:
        raise _fail(where, "no runs: give datasets, models and engines (or a list of groups)")
    groups = []
    for i, g in enumerate(raw_groups):
        gw = f"{where}, group {i + 1}"
        if not isinstance(g, dict) or set(g) - _GROUP_KEYS:
            raise _fail(gw, f"expected keys among {sorted(_GROUP_KEYS)}, found {g!r}")
        group: dict[str, Any] = {k: _str_list(g.get(k), k, gw) for k in _LIST_KEYS}
        bad = [e for e in group["engines"] if e not in ENGINES]
        if bad:
            raise _fail(gw, f"unknown engines {bad}; expected some of {list(ENGINES)}")
        if "seeds" in g:
            group["seeds"] = _seeds(g["seeds"], gw)
        if g.get("train"):
            group["train"] = _train(g["train"], gw)
        if g.get("settings"):
            group["settings"] = _settings(g["settings"], gw)
        groups.append(group)
    reported = data.get("reported")
    if reported is not None and (not isinstance(reported, dict) or not isinstance(reported.get("rows"), list)):
        raise _fail(where, "'reported' must be a mapping with 'source' and a list of 'rows'")
    return Study(
        name=name,
        groups=groups,
        seeds=_seeds(data.get("seeds", [0]), where),
        train=_train(data.get("train"), where),
        settings=_settings(data.get("settings"), where),
        description=str(data.get("description") or ""),
        reported=reported,
        notes=[str(n) for n in data.get("notes") or []],
        root=data.get("root"),
    )


def load_study(path: str | Path) -> Study:
    """Read and validate a study YAML file."""
    return parse_study(read_yaml(path, "study file"), str(path))


def resolve_dataset(name: str, root: str | None) -> tuple[str, str | None]:
    """The dataset a study's name refers to here, and a note when an image-folder copy stands in for it."""
    from ..data.catalog import CATALOG
    from ..data.load import resolve_name
    from ..data.locate import find_dataset

    canonical = resolve_name(name)
    fallback = FOLDER_FALLBACKS.get(canonical)
    if fallback and root and find_dataset(CATALOG[canonical], root) is None:
        folder = Path(root).expanduser() / fallback
        if folder.is_dir():
            return f"folder:{folder.resolve()}", (
                f"{canonical}: the original files are not under {root}; its image-folder copy {folder} was used"
            )
    return canonical, None


def plan_runs(
    study: Study, root: str | None = None, runs_dir: str | Path = "runs"
) -> tuple[list[PlannedRun], list[str]]:
    """Every run of ``study`` (groups x datasets x models x engines x seeds) and notes on data substitutions."""
    root = root or study.root
    planned, seen = [], set()
    notes: list[str] = []
    resolved: dict[str, tuple[str, str | None]] = {}
    for group in study.groups:
        train = {**study.train, **group.get("train", {})}
        extra = {**study.settings, **group.get("settings", {})}
        for dataset in group["datasets"]:
            if dataset not in resolved:
                resolved[dataset] = resolve_dataset(dataset, root)
                note = resolved[dataset][1]
                if note:
                    notes.append(note)
            real, _ = resolved[dataset]
            for model in group["models"]:
                for engine in group["engines"]:
                    for seed in group.get("seeds", study.seeds):
                        model_tag = Path(model).stem if model.endswith((".yaml", ".yml", ".json")) else model
                        key = f"{short_name(real)}-{model_tag}-{engine}-seed{seed}"
                        if key in seen:
                            continue
                        seen.add(key)
                        settings = RunSettings(
                            dataset=real,
                            model=model,
                            engine=engine,
                            root=root,
                            name=key,
                            runs_dir=str(runs_dir),
                            quiet=True,
                            study=study.name,
                            train=TrainConfig.from_dict({**copy.deepcopy(train), "seed": seed}),
                            **extra,
                        )
                        planned.append(PlannedRun(key, settings, dataset))
    return planned, notes
