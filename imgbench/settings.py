"""Every setting of a run, of a study and of the command line, defined once.

A setting is a field of :class:`TrainConfig` or :class:`RunSettings` declared
with :func:`setting`: its type and allowed values (a :class:`Kind`), its
default and its help text.  Whichever way a value arrives (a command-line
flag, a study file, a ``--config`` file, the Python API), the same
:class:`Kind` checks it, and a bad value is one :class:`SettingError` naming
the setting, the value given and what is allowed.  The command line derives
its flags, their types, choices and help from these definitions.  Rules that
tie settings together (early stopping needs validation data, ...) are in
:func:`check_run`.

The registries (engines, optimisers, schedules, precisions, devices) supply
the choices and are looked up when a value is checked: training/ and runs/
import this module, so it imports neither at load time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .kinds import (
    Choice,
    Flag,
    Integer,
    Kind,
    ListOf,
    Number,
    Setting,
    SettingError,
    Table,
    Text,
    check_fields,
    definitions,
    fields_from,
    setting,
)


def _registry(module: str, name: str) -> Callable[[], Iterable[str]]:
    """The names of the registry ``module.name``, looked up when a value is checked."""

    def names() -> Iterable[str]:
        import importlib

        registry: Iterable[str] = getattr(importlib.import_module(module, __package__), name)
        return registry

    return names


_engines = _registry(".engines.base", "ENGINES")
_optimizers = _registry(".engines.base", "OPTIMIZERS")
_precisions = _registry(".engines.base", "PRECISIONS")
_devices = _registry(".engines.base", "DEVICES")
_schedules = _registry(".training.schedules", "SCHEDULES")
_trackers = _registry(".training.trackers", "TRACKERS")
_augmentations = _registry(".data.augment", "POLICIES")
MONITORS = ("val_loss", "val_acc")  # what early stopping watches (training.callbacks.EarlyStopping)
# Which weights a run keeps as weights/best (the ones evaluated on the test split): the epoch with the best
# validation accuracy or loss, or the last epoch.  The monitor each rule watches, None for "last".
SELECTIONS = {"best-val-acc": "val_acc", "best-val-loss": "val_loss", "last": None}
EVALUATION_SPLITS = ("test", "val")  # what metrics.json scores: the test split, or the validation split

SEED_RANGE = (0, 2**32 - 1)  # NumPy's legacy seed takes 32 bits
NAME_CHARS = "A-Za-z0-9._+@-"  # of a run or study name: one folder name on every file system, no shell quoting
SAFE_NAME = Text(
    pattern=rf"[A-Za-z0-9_][{NAME_CHARS}]*",
    words="a name of letters, digits and . _ + @ - that starts with a letter, a digit or _ (one folder name)",
)

# Command-line groups of the flags, in --help order.
DATA, TRAINING, RUN, TORCH = "data and model", "training", "run directory and output", "torch engine"
TRANSFER = "transfer learning"
FLAG_GROUPS = (DATA, TRAINING, TRANSFER, RUN, TORCH)


@dataclass
class TrainConfig:
    """Settings of one training run (recorded with the run)."""

    # Defaults: Adam with a one-cycle schedule peaking at 5e-3, batch 64.  Measured with the torch
    # engine: cnn-small reaches 99.2% on MNIST in 3 epochs (constant 1e-3 at batch 128: 98.3%).
    epochs: int = setting(5, Integer(1), "passes over the training data", TRAINING)
    batch_size: int = setting(64, Integer(1), "images per optimisation step", TRAINING)
    lr: float = setting(5e-3, Number(0, open_lo=True), "peak learning rate", TRAINING)
    optimizer: str = setting("adam", Choice(_optimizers), "optimiser (the same update rules in every engine)", TRAINING)
    schedule: str = setting("onecycle", Choice(_schedules), "learning-rate schedule", TRAINING)
    warmup_steps: int = setting(0, Integer(0), "linear warm-up steps for the cosine schedule", TRAINING)
    weight_decay: float = setting(0.0, Number(0), "weight decay (L2; decoupled with adamw)", TRAINING)
    label_smoothing: float = setting(0.0, Number(0, 1, open_hi=True), "label smoothing of the loss", TRAINING)
    augment: bool = setting(False, Flag(), "augment the training batches (see --augmentation)", TRAINING)
    augmentation: str = setting(
        "auto",
        Choice(_augmentations),
        "what --augment does: auto is crop-flip for colour images and shift-rotate for grey ones; flip "
        "mirrors only; flip-shift mirrors and shifts by up to 1/14 of the side",
        TRAINING,
    )
    val_split: float = setting(0.1, Number(0, 1, open_hi=True), "fraction of train held out for validation", TRAINING)
    seed: int = setting(0, Integer(*SEED_RANGE), "seeds Python, NumPy, torch and TensorFlow", TRAINING)
    max_steps: int = setting(0, Integer(0), "stop after N optimisation steps (dry run); 0: no limit", TRAINING)
    # Default "last": the default one-cycle schedule anneals the learning rate to zero, so the last epoch is
    # the settled one.  Measured on the quick study (benchmarks/selection.py): mean seed std 0.51 points with
    # the last epoch's weights, 0.75 with the best validation accuracy's (picked on 144 images, where one
    # image is 0.69 points) and 0.62 with the best validation loss's; README "Checkpoint selection".
    select: str = setting(
        "last",
        Choice(lambda: SELECTIONS),
        "the weights a run keeps and evaluates: the epoch with the best validation accuracy or loss, or the last",
        TRAINING,
    )

    def __post_init__(self) -> None:
        check_fields(self, "")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], prefix: str = "") -> TrainConfig:
        """From a mapping of TrainConfig fields; unknown names and bad values are a :class:`SettingError`."""
        return cls(**fields_from(cls, d, "training settings", prefix))


@dataclass
class RunSettings:
    """Everything that defines a run; saved as config.yaml and accepted back by ``--config``."""

    dataset: str = setting(
        "digits",
        Text(),
        "mnist, fashion-mnist, cifar10, digits, folder:PATH or csv:PATH; NAME[5-9] keeps those classes, NAME@N "
        "the first N training images of each class",
        DATA,
    )
    model: str = setting("mlp", Text(), "zoo name (see 'imgbench models') or a YAML/JSON spec file", DATA)
    engine: str = setting("numpy", Choice(_engines), "the framework that trains the model", DATA)
    root: str | None = setting(None, Text(optional=True), "directory searched first for named datasets", DATA, "DIR")
    name: str | None = setting(
        None, dataclasses.replace(SAFE_NAME, optional=True), "run name (a numeric suffix is added on clashes)", RUN
    )
    runs_dir: str = setting("runs", Text(), "where run directories go", RUN, "DIR")
    variant: str | None = setting(
        None,
        dataclasses.replace(SAFE_NAME, optional=True),
        "a word that tells this run from others of the same dataset, model and engine (a study group's "
        "'variant': transfer, say); it joins the run name and the report's label",
        RUN,
        "WORD",
    )
    image_size: int | None = setting(None, Integer(1, optional=True), "resize folder images to NxN", DATA, "N")
    device: str = setting("auto", Choice(_devices), "torch engine device", TORCH)
    threads: int | None = setting(None, Integer(1, optional=True), "torch engine CPU threads", TORCH, "N")
    deterministic: bool = setting(False, Flag(), "deterministic torch kernels", TORCH)
    precision: str = setting(
        "auto",
        Choice(_precisions),
        "torch and keras engines' arithmetic: auto (default: bf16 mixed precision on a GPU, fp32 on the CPU), "
        "fp32, bf16 (mixed precision; faster on CPUs with AVX-512 BF16 or AMX), fp16 (GPU, torch engine)",
        TORCH,
        show_default=False,
    )
    early_stopping: str | None = setting(
        None, Choice(lambda: MONITORS, optional=True), "stop when this stops improving", TRAINING
    )
    patience: int = setting(5, Integer(1), "epochs without improvement before early stopping", TRAINING)
    quiet: bool = setting(False, Flag(), "no progress output", RUN)
    log: list[str] | None = setting(
        None,
        ListOf(Choice(_trackers), optional=True),
        "experiment trackers, comma-separated: tensorboard (RUN_DIR/tensorboard), mlflow (RUNS_DIR/mlflow, "
        "or MLFLOW_TRACKING_URI); optional extras: pip install 'imgbench[trackers]'",
        RUN,
        "TRACKER[,TRACKER]",
    )
    evaluate: str = setting(
        "test",
        Choice(lambda: EVALUATION_SPLITS),
        "the split the kept weights are scored on when training ends (val: a tuning trial, which must not "
        "see the test split)",
        RUN,
    )
    # Transfer learning (docs/guide/train.md "Transfer learning"; the phases in training/phases.py).  Run settings, not
    # TrainConfig fields: a study compares its runs' train: sections, which these leave as they were.
    init_from: str | None = setting(
        None,
        Text(optional=True),
        "start from the weights of this run directory (its weights/best), or of a weights file "
        "(.npz, .pt, .safetensors, .weights.h5) of a model with the same layers",
        TRANSFER,
        "RUN_DIR|FILE",
    )
    new_head: bool = setting(
        False,
        Flag(),
        "re-initialise the classification head (the last dense layer) instead of copying it; automatic "
        "when the class count differs",
        TRANSFER,
    )
    freeze: list[str] | None = setting(
        None,
        ListOf(Text(), optional=True),
        "layers that keep their weights and BatchNorm statistics: fnmatch patterns over layer names "
        "(conv1, res1.*), comma-separated",
        TRANSFER,
        "PATTERN[,PATTERN]",
    )
    unfreeze_after: int = setting(
        0,
        Integer(0),
        "two phases: for N epochs only the unfrozen layers train (without --freeze: only the head), then "
        "every layer, at a tenth of the scheduled learning rate; 0: one phase",
        TRANSFER,
        "N",
    )
    head_lr: float | None = setting(
        None,
        Number(0, open_lo=True, optional=True),
        "peak learning rate of the first phase of --unfreeze-after (default: --lr)",
        TRANSFER,
        "LR",
    )
    study: str | None = setting(None, dataclasses.replace(SAFE_NAME, optional=True), "the study this run belongs to")
    train: TrainConfig = field(default_factory=TrainConfig)
    spec: dict[str, Any] | None = setting(
        None, Table(optional=True), "a model spec trained instead of building the model (a --config file's spec:)"
    )

    def __post_init__(self) -> None:
        if isinstance(self.train, Mapping):  # RunSettings(train={"epochs": 3}) from Python
            self.train = TrainConfig.from_dict(self.train, "train.")
        elif not isinstance(self.train, TrainConfig):
            raise SettingError(f"train must be a TrainConfig or a mapping of its fields, got {self.train!r}")
        check_fields(self, "")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunSettings:
        """From a mapping such as a run's config.yaml; unknown names and bad values are a :class:`SettingError`."""
        rest = {k: v for k, v in d.items() if k != "train"}
        kwargs = fields_from(cls, rest, "settings", elsewhere={k: f"train.{k}" for k in definitions(TrainConfig)})
        return cls(**kwargs, train=TrainConfig.from_dict(d.get("train") or {}, "train."))


def run_settings() -> dict[str, Setting]:
    """Every setting of a run by its path in config.yaml (``engine``, ``train.epochs``, ...)."""
    return {**definitions(RunSettings), **{f"train.{k}": s for k, s in definitions(TrainConfig).items()}}


def check_run(settings: RunSettings, given: Collection[str] = (), label: Callable[[str], str] = str) -> None:
    """Check every setting of a run and the rules between them, before anything is trained or written.

    A setting counts as chosen when it differs from its default or is in ``given`` (command-line flags,
    keys of a study file); a chosen setting that would have no effect is an error.  ``label`` names a
    setting in messages (``--val-split`` on the command line).
    """
    check_fields(settings, "")
    check_fields(settings.train, "train.")
    defaults = run_settings()

    def chosen(path: str) -> bool:
        section, _, name = path.rpartition(".")
        value = getattr(settings.train if section else settings, name)
        return path in given or value != defaults[path].default

    t = settings.train
    if settings.early_stopping and t.val_split == 0:
        raise SettingError(
            f"{label('early_stopping')} {settings.early_stopping} needs validation data, but "
            f"{label('train.val_split')} is 0; hold some training data out (e.g. {label('train.val_split')} 0.1)"
        )
    if chosen("patience") and not settings.early_stopping:
        raise SettingError(
            f"{label('patience')} {settings.patience} applies only with early stopping; "
            f"give {label('early_stopping')} ({' or '.join(MONITORS)}) or leave {label('patience')} out"
        )
    if SELECTIONS[t.select] and t.val_split == 0 and chosen("train.select"):
        raise SettingError(
            f"{label('train.select')} {t.select} needs validation data, but {label('train.val_split')} is 0; "
            f"hold some training data out (e.g. {label('train.val_split')} 0.1) or keep the last epoch's weights "
            f"({label('train.select')} last)"
        )
    if settings.evaluate == "val" and t.val_split == 0:
        raise SettingError(f"{label('evaluate')} val needs validation data, but {label('train.val_split')} is 0")
    _check_transfer(settings, chosen, label)
    from .engines.base import weight_decay_problem  # the engines' registry imports this module

    problem = weight_decay_problem(settings.engine, t.optimizer, t.weight_decay)
    if problem:
        raise SettingError(f"{label('train.weight_decay')}: {problem}")
    if chosen("train.warmup_steps") and t.schedule != "cosine":
        raise SettingError(
            f"{label('train.warmup_steps')} {t.warmup_steps} applies only to the cosine schedule, "
            f"but {label('train.schedule')} is {t.schedule}"
        )


def _check_transfer(settings: RunSettings, chosen: Callable[[str], bool], label: Callable[[str], str]) -> None:
    """The rules between the transfer-learning settings (see :func:`check_run`)."""
    if chosen("new_head") and settings.new_head and not settings.init_from:
        raise SettingError(f"{label('new_head')} applies only with {label('init_from')} (a run or weights file)")
    if chosen("head_lr") and not settings.unfreeze_after:
        raise SettingError(
            f"{label('head_lr')} {settings.head_lr} is the learning rate of the first phase, so it needs "
            f"{label('unfreeze_after')} N"
        )
    if settings.unfreeze_after >= settings.train.epochs:
        raise SettingError(
            f"{label('unfreeze_after')} {settings.unfreeze_after} must be less than {label('train.epochs')} "
            f"{settings.train.epochs}, or no epoch would train every layer"
        )


# --- studies -------------------------------------------------------------------------------------

STUDY_KEYS: dict[str, Setting] = {
    "name": Setting(SAFE_NAME, None, "the study's name: its folder (studies/<name>) and the runs' study"),
    "description": Setting(Kind(optional=True), "", "what the study shows (a sentence for the report)"),
    "seeds": Setting(ListOf(Integer(*SEED_RANGE)), [0], "the seeds every run is trained with"),
    "train": Setting(Table(optional=True), {}, "TrainConfig settings for every run (all but seed)"),
    "settings": Setting(Table(optional=True), {}, "other run settings for every run"),
    "datasets": Setting(
        ListOf(Text()),
        None,
        "the datasets (names, folder:PATH or csv:PATH; NAME[5-9]: those classes; NAME@N: N training images per class)",
    ),
    "models": Setting(ListOf(Text()), None, "the models (zoo names or spec files)"),
    "engines": Setting(ListOf(Choice(_engines)), None, "the engines"),
    "groups": Setting(Kind(optional=True), [], "several groups, each with its own datasets, models, engines, ..."),
    "variant": Setting(
        dataclasses.replace(SAFE_NAME, optional=True),
        None,
        "a group's word that sets its runs apart from other groups' runs of the same dataset, model and engine "
        "(in run names and report labels); a group with settings.init_from is 'transfer' unless named",
    ),
    "reported": Setting(Table(optional=True), None, "figures a classic study reported: source and rows"),
    # may be empty: Study.to_dict records [] when a study has no notes, and study.yaml must load back.
    "notes": Setting(ListOf(Text(), optional=True, may_be_empty=True), None, "notes printed in the report"),
    "root": Setting(Text(optional=True), None, "directory searched first for named datasets"),
}
GROUP_KEYS = ("datasets", "models", "engines", "seeds", "variant", "train", "settings")
# The RunSettings a study's settings: section may hold; the rest are fixed by the study or per run.
STUDY_RUN_SETTINGS = (
    "image_size",
    "device",
    "threads",
    "deterministic",
    "precision",
    "early_stopping",
    "patience",
    "log",
    "init_from",
    "new_head",
    "freeze",
    "unfreeze_after",
    "head_lr",
)
