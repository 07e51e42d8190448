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
      - {datasets: ["mnist[0-4]"], models: [cnn-small], engines: [torch]}
      - datasets: ["mnist[5-9]@5"]              # classes 5-9, 5 training images each (data/names.py)
        models: [cnn-small]
        engines: [torch]
        variant: transfer                       # joins run names and report labels (default for init_from)
        settings: {init_from: "mnist.0-4-cnn-small-torch-seed{seed}", new_head: true}  # seed for seed
    reported:                                   # figures a classic study reported (optional)
      source: "where they come from"
      rows: [{dataset: cifar10, model: ann-256k, engine: keras, accuracy: 0.47, f1_macro: 0.45}]

Every run of a study gets a fixed name, ``<dataset>-<model>-<engine>[-<variant>]-seed<S>``,
so running the study again finds the runs that are already finished.  A group's ``settings.init_from`` may
name another run of the study (``{seed}`` stands for the run's own seed): it is trained first, and the group's
runs start from its weights.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engines import ENGINES
from ..engines.pretrained import SUFFIXES as WEIGHT_FILE_SUFFIXES
from ..fileio import read_yaml
from ..kinds import SettingError, check_keys, definitions, located
from ..runs.rundir import run_name
from ..settings import GROUP_KEYS, STUDY_KEYS, STUDY_RUN_SETTINGS, RunSettings, TrainConfig, check_run

_LIST_KEYS = ("datasets", "models", "engines")

# A named dataset missing under --root, and the image-folder copy of it used instead.
FOLDER_FALLBACKS = {"cifar10": "cifar10-jpg"}


TRANSFER_VARIANT = "transfer"  # the variant of a group that starts from other weights and names none


@dataclass
class PlannedRun:
    """One run of a study: its fixed name, its settings, and the run of the study it starts from (if any)."""

    key: str
    settings: RunSettings
    dataset_label: str
    after: str | None = None


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


def _fail(where: str, msg: str) -> SettingError:
    return SettingError(f"{where}: {msg}")


def _value(data: dict, key: str) -> Any:
    """``data[key]`` checked as :data:`~imgbench.settings.STUDY_KEYS` defines it (its default when absent)."""
    if key == "engines" and isinstance(data.get(key), list):
        check_keys([e for e in data[key] if isinstance(e, str)], list(ENGINES), "engines")  # all at once
    return STUDY_KEYS[key].check(f"'{key}'", data.get(key, STUDY_KEYS[key].default))


def _train(value: Any) -> dict:
    """A study's (or group's) ``train:`` section: TrainConfig fields but ``seed``, values checked."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SettingError(f"'train' must be a mapping of training settings, found {value!r}")
    if "seed" in value:
        raise SettingError("train.seed: a study lists its seeds in 'seeds' (one run per seed), not in 'train'")
    known = {k: s for k, s in definitions(TrainConfig).items() if k != "seed"}
    check_keys(value, known, "training settings")
    return {k: known[k].check(f"train.{k}", v) for k, v in value.items()}


def _settings(value: Any) -> dict:
    """A study's (or group's) ``settings:`` section: the run settings a study may choose, values checked."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SettingError(f"'settings' must be a mapping of run settings, found {value!r}")
    check_keys(value, STUDY_RUN_SETTINGS, "run settings", {k: f"train.{k}" for k in definitions(TrainConfig)})
    known = definitions(RunSettings)
    return {k: known[k].check(f"settings.{k}", v) for k, v in value.items()}


def _check_runs(study: Study, group: dict) -> None:
    """The rules between a group's settings (early stopping needs validation data, ...), as a run checks them."""
    train = {**study.train, **group.get("train", {})}
    extra = {**study.settings, **group.get("settings", {})}
    run = RunSettings(train=TrainConfig(**train), **extra)
    chosen = {*(f"train.{k}" for k in train), *extra}
    check_run(run, chosen, lambda name: name if name.startswith("train.") else f"settings.{name}")


def _group(g: Any, where: str) -> dict:
    if not isinstance(g, dict):
        raise _fail(where, f"expected a mapping with keys among {list(GROUP_KEYS)}, found {g!r}")
    with located(where):
        check_keys(g, GROUP_KEYS, "keys")
        group: dict[str, Any] = {k: _value(g, k) for k in _LIST_KEYS}
        if "seeds" in g:
            group["seeds"] = _value(g, "seeds")
        if g.get("variant") is not None:
            group["variant"] = _value(g, "variant")
        if g.get("train"):
            group["train"] = _train(g["train"])
        if g.get("settings"):
            group["settings"] = _settings(g["settings"])
    return group


def parse_study(data: object, where: str = "study") -> Study:
    """Validate a study mapping (from YAML or a preset) into a :class:`Study`; nothing bad gets through."""
    if not isinstance(data, dict):
        raise _fail(where, "expected a mapping with name, datasets, models, engines and seeds")
    raw_groups = data.get("groups") or []
    with located(where):
        check_keys(data, STUDY_KEYS, "keys")
        name = _value(data, "name")
        if not isinstance(raw_groups, list):
            raise SettingError(f"'groups' must be a list of groups, found {raw_groups!r}")
    if any(k in data for k in _LIST_KEYS):
        top = {k: data.get(k) for k in _LIST_KEYS}
        if data.get("variant") is not None:  # like the lists, the top level's variant is its own group's
            top["variant"] = data["variant"]
        raw_groups = [top, *raw_groups]
    if not raw_groups:
        raise _fail(where, "no runs: give datasets, models and engines (or a list of groups)")
    groups = [_group(g, f"{where}, group {i + 1}") for i, g in enumerate(raw_groups)]
    reported = data.get("reported")
    if reported is not None and (not isinstance(reported, dict) or not isinstance(reported.get("rows"), list)):
        raise _fail(where, "'reported' must be a mapping with 'source' and a list of 'rows'")
    with located(where):
        study = Study(
            name=name,
            groups=groups,
            seeds=_value(data, "seeds"),
            train=_train(data.get("train")),
            settings=_settings(data.get("settings")),
            description=str(data.get("description") or ""),
            reported=reported,
            notes=[str(n) for n in _value(data, "notes") or []],
            root=_value(data, "root"),
        )
    for i, group in enumerate(groups):
        with located(f"{where}, group {i + 1}" if len(groups) > 1 else where):
            _check_runs(study, group)
    return study


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
            variant = group.get("variant") or (TRANSFER_VARIANT if extra.get("init_from") else None)
            for model in group["models"]:
                for engine in group["engines"]:
                    for seed in group.get("seeds", study.seeds):
                        model_tag = Path(model).stem if model.endswith((".yaml", ".yml", ".json")) else model
                        key = f"{run_name(real, model_tag, engine, variant)}-seed{seed}"
                        if key in seen:
                            continue
                        seen.add(key)
                        source, after = _init_from(extra.get("init_from"), seed, runs_dir)
                        settings = RunSettings(
                            dataset=real,
                            model=model,
                            engine=engine,
                            root=root,
                            name=key,
                            runs_dir=str(runs_dir),
                            quiet=True,
                            study=study.name,
                            variant=variant,
                            train=TrainConfig(**copy.deepcopy(train), seed=seed),
                            **{**extra, "init_from": source},
                        )
                        planned.append(PlannedRun(key, settings, dataset, after))
    missing = [p for p in planned if p.after is not None and p.after not in seen]
    if missing:
        raise SettingError(
            f"settings.init_from of run {missing[0].key}: expected a run of this study, found "
            f"'{missing[0].after}'; the study's runs are {', '.join(p.key for p in planned if p.after is None)}"
        )
    return planned, notes


def _init_from(value: str | None, seed: int, runs_dir: str | Path) -> tuple[str | None, str | None]:
    """Where a run's ``init_from`` points (``{seed}`` filled in), and the study run it names, if it names one.

    A plain name (no folder separator, no weights suffix) is a run of the study, found in the study's runs
    folder; anything else is a path, used as given."""
    if value is None:
        return None, None
    try:
        filled = value.format(seed=seed)
    except (KeyError, IndexError, ValueError) as exc:
        raise SettingError(
            f"settings.init_from: expected a run name or path in which '{{seed}}' is the only placeholder, "
            f"found {value!r} ({exc})"
        ) from None
    if "/" in filled or "\\" in filled or filled.endswith(WEIGHT_FILE_SUFFIXES):
        return filled, None
    return str(Path(runs_dir) / filled), filled
