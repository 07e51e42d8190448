"""Search-space files: the base run, the settings and model knobs to search, the sampler and the pruner.

A search space is YAML::

    name: digits-mlp
    description: what the search is for
    dataset: digits
    model: mlp                        # the base run: dataset, model, engine, the trials' seed
    engine: numpy
    seed: 0
    train: {epochs: 10}               # fixed training settings, as a study file's train:
    settings: {precision: fp32}       # other fixed run settings, as a study file's settings:
    sampler: tpe                      # tpe or random
    pruner: {type: median, startup_trials: 5, warmup_epochs: 1}   # median, hyperband or none
    space:
      train.lr: {low: 1.0e-4, high: 0.1, log: true}   # a float on a log scale
      train.weight_decay: {low: 0.0, high: 1.0e-3}    # ... on a linear scale
      train.epochs: {low: 5, high: 15}                # an integer (step: 1 unless given)
      train.batch_size: {choices: [32, 64, 128]}      # one of a list
      model: {choices: [mlp, mlp-small]}
      spec.dense1.units: {low: 64, high: 512, step: 64}   # a model knob: key `units` of layer dense1

A searched setting is named by its path in a run's config.yaml and checked by
its one definition in :mod:`imgbench.settings`; a model knob,
``spec.<layer>.<key>``, sets a key of a named layer of the model's resolved
spec (named as a run's config.yaml records them: dense1, conv2, ...), checked
by the layer registry once the data's shape is known (:mod:`.knobs`).  Every error is one
:class:`~imgbench.kinds.SettingError` that names the file and the key.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ImgbenchError
from ..fileio import read_yaml
from ..kinds import Choice, Flag, Integer, Number, Setting, SettingError, Table, check_keys, definitions, located
from ..settings import STUDY_KEYS, RunSettings, TrainConfig, check_run, run_settings
from ..studies.studyfile import PlannedRun, Study, parse_study, plan_runs

KNOB = "spec."  # the prefix of a model knob: spec.<layer>.<key>
SAMPLERS = ("tpe", "random")
# What a trial is judged by: the validation accuracy of the epoch whose weights its run keeps (train.select).
OBJECTIVE = "val_acc"

# Run settings a search may vary besides the training settings; the rest are places, names or resources.
SEARCHED_RUN_SETTINGS = ("model", "engine", "early_stopping", "patience")
# Training settings a search must not vary, and why.
NOT_SEARCHED = {
    "train.seed": "the trials share the space's 'seed'; the final runs use --final-seeds fresh seeds",
    "train.val_split": "the validation split is what the trials are compared on: fix it in 'train'",
    "train.max_steps": "a dry-run limit, not a hyperparameter: fix it in 'train'",
}
PARAM_KEYS = ("low", "high", "log", "step", "choices")
# Pruner options and their definitions; the pruner's type is the key.
PRUNERS: dict[str, dict[str, Setting]] = {
    "median": {
        "startup_trials": Setting(Integer(0), 5, "trials that finish before any is pruned"),
        "warmup_epochs": Setting(Integer(0), 1, "epochs a trial trains before it may be pruned"),
    },
    "hyperband": {
        "min_epochs": Setting(Integer(1), 1, "epochs every trial trains (Hyperband's minimum resource)"),
        "reduction_factor": Setting(Integer(2), 3, "1/reduction_factor of the trials go on at each rung"),
    },
    "none": {},
}
_run = definitions(RunSettings)
SPACE_KEYS: dict[str, Setting] = {
    "name": Setting(STUDY_KEYS["name"].kind, None, "the search's name: its folder (tunes/<name>) and its runs' study"),
    "description": STUDY_KEYS["description"],
    "dataset": _run["dataset"],
    "model": _run["model"],
    "engine": _run["engine"],
    "root": _run["root"],
    "seed": definitions(TrainConfig)["seed"],
    "train": STUDY_KEYS["train"],
    "settings": STUDY_KEYS["settings"],
    "sampler": Setting(Choice(lambda: SAMPLERS), "tpe", "how the next trial's settings are chosen"),
    "pruner": Setting(Choice(lambda: PRUNERS), "median", "stops trials whose validation accuracy lags"),
    "space": Setting(Table(), None, "the settings and model knobs to search, each a range or a list of choices"),
}
CHECKED_COMBINATIONS = 4096  # combinations of extreme values checked against the rules between settings


@dataclass(frozen=True)
class Param:
    """One searched setting or knob: a range (``low``..``high``, ``log`` scale, ``step``) or ``choices``."""

    name: str
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    choices: tuple[Any, ...] | None = None
    integer: bool = False

    @property
    def extremes(self) -> tuple[Any, ...]:
        """The values that test a rule or a knob hardest: the ends of a range, or every choice."""
        return self.choices if self.choices is not None else (self.low, self.high)

    def distribution(self) -> Any:
        """The Optuna distribution of this parameter."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.choices is not None:
            return CategoricalDistribution(list(self.choices))
        if self.integer:
            return IntDistribution(self.low, self.high, log=self.log, step=self.step or 1)
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def describe(self) -> str:
        """In words, for the report: 'log scale in [0.0001, 0.1]', 'one of 32, 64, 128'."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        scale = "log scale" if self.log else "linear scale"
        kind = "integer" if self.integer else "float"
        return f"{kind}, {scale} in [{self.low:g}, {self.high:g}]" + (f", step {self.step:g}" if self.step else "")

    def to_dict(self) -> dict[str, Any]:
        if self.choices is not None:
            return {"choices": list(self.choices)}
        out = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step:
            out["step"] = self.step
        return out


@dataclass
class Space:
    """A parsed search-space file (see the module docstring); ``base`` is its fixed part as a one-run study."""

    name: str
    base: Study
    params: list[Param]
    description: str = ""
    seed: int = 0
    sampler: str = "tpe"
    pruner: dict[str, Any] = field(default_factory=lambda: {"type": "median"})
    source: str = "space"

    @property
    def group(self) -> dict[str, Any]:
        return self.base.groups[0]

    @property
    def models(self) -> list[str]:
        """Every model a trial may train."""
        for p in self.params:
            if p.name == "model" and p.choices is not None:
                return list(p.choices)
        return list(self.group["models"])

    @property
    def knobs(self) -> list[Param]:
        return [p for p in self.params if p.name.startswith(KNOB)]

    def max_epochs(self) -> int:
        """The most epochs a trial may train (Hyperband's maximum resource)."""
        for p in self.params:
            if p.name == "train.epochs":
                return int(max(p.extremes))
        return int(self.base.train.get("epochs", definitions(TrainConfig)["epochs"].default))

    def base_run(self, root: str | None, runs_dir: str | Path) -> tuple[PlannedRun, list[str]]:
        """The base run's settings (data located as a study locates it) and notes on data substitutions."""
        planned, notes = plan_runs(self.base, root, runs_dir)
        return planned[0], notes

    def to_dict(self) -> dict[str, Any]:
        """The space as a file holds it, normalised: what ``tune.yaml`` records and compares."""
        return {
            "name": self.name,
            "description": self.description,
            "dataset": self.group["datasets"][0],
            "model": self.group["models"][0],
            "engine": self.group["engines"][0],
            "root": self.base.root,
            "seed": self.seed,
            "train": self.base.train,
            "settings": self.base.settings,
            "sampler": self.sampler,
            "pruner": self.pruner,
            "space": {p.name: p.to_dict() for p in self.params},
        }


def shown(value: Any) -> str:
    """A parameter's value in a line or a table: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def searchable() -> dict[str, Setting]:
    """The settings a space may search, by their path in config.yaml (model knobs aside)."""
    return {
        path: s
        for path, s in run_settings().items()
        if path in SEARCHED_RUN_SETTINGS or (path.startswith("train.") and path not in NOT_SEARCHED)
    }


def _pruner(value: Any) -> dict[str, Any]:
    """``pruner``: a type name or a mapping of ``type`` and its options; returned with every option filled."""
    given = {"type": value} if isinstance(value, str) or value is None else value
    if not isinstance(given, dict):
        raise SettingError(f"'pruner' must be {', '.join(PRUNERS)} or a mapping with 'type', got {value!r}")
    kind = SPACE_KEYS["pruner"].check("pruner.type", given.get("type", SPACE_KEYS["pruner"].default))
    options = PRUNERS[kind]
    rest = {k: v for k, v in given.items() if k != "type"}
    check_keys(rest, options, f"options of the {kind} pruner")
    return {"type": kind, **{k: s.check(f"pruner.{k}", rest.get(k, s.default)) for k, s in options.items()}}


def _numbers(name: str, spec: dict[str, Any], s: Setting | None) -> Param:
    """A range: ``low`` and ``high`` (checked as the setting's own values), ``log`` or ``step``."""
    if s is not None and not isinstance(s.kind, Number):
        raise SettingError(f"{name} takes a list of choices, not a range (it is {s.kind.expected})")
    if "low" not in spec or "high" not in spec:
        raise SettingError(f"{name}: a range needs 'low' and 'high' (or give 'choices')")
    numeric = Number()
    if s is not None:
        low, high = (s.check(f"{name} {k}", spec[k]) for k in ("low", "high"))
        integer = isinstance(s.kind, Integer)
    else:  # a knob: integers when both ends are
        low, high = (Setting(numeric, None, "").check(f"{name} {k}", spec[k]) for k in ("low", "high"))
        integer = all(isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in ("low", "high"))
        low, high = (int(low), int(high)) if integer else (low, high)
    log = Setting(Flag(), False, "").check(f"{name} log", spec.get("log", False))
    if not low < high:
        raise SettingError(f"{name}: low must be below high, got low {low!r} and high {high!r}")
    if log and low <= 0:
        raise SettingError(f"{name}: a log scale needs low > 0, got low {low!r}")
    step = spec.get("step")
    if step is not None:
        kind = Integer(1) if integer else Number(0, open_lo=True)
        step = Setting(kind, None, "").check(f"{name} step", step)
        if log:
            raise SettingError(f"{name}: give 'log' or 'step', not both")
        if not math.isclose((high - low) / step, round((high - low) / step)):
            raise SettingError(f"{name}: high - low ({high - low:g}) must be a multiple of step ({step:g})")
    return Param(name, low, high, log, step, None, integer)


def _param(name: Any, spec: Any, known: dict[str, Setting]) -> Param:
    """One entry of ``space``, checked by the definition of the setting it searches."""
    if not isinstance(name, str):
        raise SettingError(f"a searched name must be a setting's path, got {name!r}")
    if name.startswith(KNOB):
        if len(name.split(".")) != 3 or not all(name.split(".")):
            raise SettingError(f"model knob {name!r}: expected spec.<layer>.<key>, e.g. spec.dense1.units")
        s = None
    elif name in NOT_SEARCHED:
        raise SettingError(f"{name} cannot be searched: {NOT_SEARCHED[name]}")
    else:
        elsewhere = {path.rpartition(".")[2]: path for path in known}
        check_keys([name], list(known), "setting to search", elsewhere)
        s = known[name]
    if not isinstance(spec, dict):
        raise SettingError(f"{name} must be a mapping: {{low, high}} with log or step, or {{choices: [...]}}")
    check_keys(spec, PARAM_KEYS, f"keys of {name}")
    if "choices" not in spec:
        return _numbers(name, spec, s)
    if set(spec) != {"choices"}:
        raise SettingError(f"{name}: give 'choices' or a range (low, high, log, step), not both")
    choices = spec["choices"]
    if not isinstance(choices, list) or not choices:
        raise SettingError(f"{name}: choices must be a non-empty list, got {choices!r}")
    if s is not None:
        choices = [s.check(f"{name} choice", c) for c in choices]
    elif not all(isinstance(c, (bool, int, float, str)) for c in choices):
        raise SettingError(f"{name}: each choice of a knob must be a number, a string or true/false, got {choices!r}")
    if len({repr(c) for c in choices}) != len(choices):
        raise SettingError(f"{name}: choices must differ, got {choices!r}")
    return Param(name, choices=tuple(choices))


def with_params(base: RunSettings, params: dict[str, Any]) -> RunSettings:
    """``base`` with the searched settings ``params`` (paths as in config.yaml; knobs are left to :mod:`.knobs`)."""
    d = base.to_dict()
    for path, value in params.items():
        if not path.startswith(KNOB):
            section, _, name = path.rpartition(".")
            (d[section] if section else d)[name] = value
    return RunSettings.from_dict(d)


def _check_rules(base: RunSettings, given: set[str], params: list[Param]) -> None:
    """The rules between settings (warm-up needs the cosine schedule, ...) at every combination of extremes."""
    searched = [p for p in params if not p.name.startswith(KNOB)]
    names = [p.name for p in searched]
    for values in itertools.islice(itertools.product(*(p.extremes for p in searched)), CHECKED_COMBINATIONS):
        point = dict(zip(names, values, strict=True))
        try:
            check_run(with_params(base, point), given | set(names))
        except SettingError as exc:
            where = ", ".join(f"{k} {v!r}" for k, v in point.items())
            raise SettingError(f"space: with {where}: {exc}") from None


def parse_space(data: object, where: str = "space") -> Space:
    """Validate a search-space mapping (from YAML or a preset) into a :class:`Space`; nothing bad gets through."""
    if not isinstance(data, dict):
        raise SettingError(f"{where}: expected a mapping with name, dataset, model, engine and space")
    with located(where):
        check_keys(data, SPACE_KEYS, "keys")
        for key in ("name", "dataset", "space"):
            if key not in data:
                raise SettingError(f"'{key}' is missing: {SPACE_KEYS[key].help}")
        value = {k: s.check(k, data.get(k, s.default)) for k, s in SPACE_KEYS.items() if k not in ("pruner", "space")}
        if "seed" in (value["train"] or {}):
            raise SettingError("train.seed: give the trials' seed as 'seed' (at the top level), not in 'train'")
        raw = data["space"]
        if not isinstance(raw, dict) or not raw:
            raise SettingError(f"'space' must be a non-empty mapping of settings to search, got {raw!r}")
        known = searchable()
        params = []
        for name, spec in raw.items():
            with located(f"space: {name}"):
                params.append(_param(name, spec, known))
        pruner = _pruner(data.get("pruner", SPACE_KEYS["pruner"].default))
    study = {
        "name": value["name"],
        "seeds": [value["seed"]],
        "train": value["train"],
        "settings": value["settings"],
        "datasets": [value["dataset"]],
        "models": [value["model"]],
        "engines": [value["engine"]],
        "root": value["root"],
    }
    base = parse_study(study, where)  # the fixed part, checked as a study's train: and settings: are
    space = Space(
        value["name"], base, params, value["description"] or "", value["seed"], value["sampler"], pruner, where
    )
    try:
        run = space.base_run(None, "runs")[0].settings
    except SettingError:
        raise
    except ImgbenchError as exc:  # an unknown dataset name
        raise SettingError(f"{where}: dataset: {exc}") from None
    with located(where):
        if run.train.val_split == 0:
            raise SettingError("train.val_split 0 leaves no validation data, and the trials are compared on it")
        _check_rules(run, {*(f"train.{k}" for k in base.train), *base.settings}, params)
    return space


def load_space(path: str | Path) -> Space:
    """Read and validate a search-space YAML file."""
    return parse_space(read_yaml(path, "search space"), str(path))
