"""Train, resume and evaluate runs; every result is written to the run directory."""

from __future__ import annotations

import contextlib
import random
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..data import Dataset, Normalizer, load_dataset
from ..data.images import has_dark_background, preprocessing_style
from ..engines import WEIGHT_SUFFIX, create_engine
from ..errors import ImgbenchError
from ..evaluation import classification_metrics, inference_speed
from ..fileio import read_json, read_yaml, write_json, write_yaml, writing
from ..kinds import located
from ..settings import NAME_CHARS, SELECTIONS, RunSettings, check_run
from ..specs import SpecError, build_spec, resolve
from ..training import Callback, EarlyStopping, History, Progress, TrainingLoop
from ..training.checkpoint import PROGRESS, DamagedCheckpointError, RunWriter, discard_uncommitted, read_checkpoint
from ..training.loop import split_for_training
from ..training.phases import Phases, plan_phases
from .health import FINISHED, run_state
from .index import index_finished_run
from .lock import run_lock
from .predictions import write_predictions
from .results import Metrics, RunDir
from .rundir import claim_run_dir, environment, run_name
from .transfer import initialise_from, source_weights


def load_settings(
    config: str | Path | None = None, values: dict | None = None, label: Callable[[str], str] = str
) -> RunSettings:
    """RunSettings from a run's config.yaml (the defaults without one), with ``values`` set on top, all checked.

    A key of ``values`` names a RunSettings field, or ``train.<field>`` one of its TrainConfig;
    a value of None means "not given" and changes nothing.  The config's ``train:`` and ``spec:``
    sections are taken as they are, edited or not; a ``model`` in ``values`` builds that model
    instead of the config's spec.  ``label`` names a key of ``values`` in messages (its flag).
    """
    given = {k: v for k, v in (values or {}).items() if v is not None}
    merged = RunSettings().to_dict()
    if config:
        with located(str(config)):
            recorded = RunSettings.from_dict(read_yaml(config, "run config"))
        if recorded.spec is not None and "model" not in given:
            try:
                resolve(recorded.spec)
            except SpecError as exc:
                raise SpecError(f"{config}: spec: {exc}") from None
        merged = recorded.to_dict()
    if "model" in given:
        merged["spec"] = None
    for target, value in given.items():
        section, _, name = target.rpartition(".")
        (merged[section] if section else merged)[name] = value
    settings = RunSettings.from_dict(merged)
    # Settings from the config file go by their names there, the rest as ``label`` says (their flags).
    named = (lambda name: label(name) if name in given else name) if config else label
    with located(str(config)) if config and not given else contextlib.nullcontext():  # all from the file: name it
        check_run(settings, set(given), named)
    return settings


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and, when loaded, PyTorch and TensorFlow."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (seeds the legacy global RNG that user code and libraries may use)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)


def _engine(settings: RunSettings, spec: dict):
    t = settings.train
    return create_engine(
        settings.engine,
        spec,
        seed=t.seed,
        optimizer=t.optimizer,
        lr=t.lr,
        weight_decay=t.weight_decay,
        label_smoothing=t.label_smoothing,
        device=settings.device,
        threads=settings.threads,
        deterministic=settings.deterministic,
        precision=settings.precision,
    )


def _spec(settings: RunSettings, ds, stored: dict | None = None) -> dict:
    if settings.spec is not None:
        return _given_spec(settings.spec, ds)
    if stored is not None and not Path(settings.model).exists() and settings.model.endswith((".yaml", ".yml", ".json")):
        return resolve(stored)  # rerun of a run whose spec file is gone: use the recorded spec
    return build_spec(settings.model, ds.image_shape, ds.num_classes)


def _given_spec(spec: dict, ds) -> dict:
    """A spec given with the settings (a ``--config`` file's ``spec:``), resolved; it must fit the data."""
    shape, classes = list(ds.image_shape), ds.num_classes
    resolved = resolve({"input_shape": shape, "num_classes": classes, **spec})
    if resolved["input_shape"] != shape or resolved["num_classes"] != classes:
        raise SpecError(
            f"the model spec of these settings takes {resolved['input_shape']} images in {resolved['num_classes']} "
            f"classes, but {ds.name} has {shape} images in {classes} classes; give --model to build a model for it"
        )
    return resolved


def _load(settings: RunSettings):
    return load_dataset(settings.dataset, settings.root, image_size=settings.image_size)


def _callbacks(settings, run, engine, extra_callbacks=()):
    # The weights kept as weights/best follow train.select; with no validation data, the last epoch's.
    monitor = SELECTIONS[settings.train.select] if settings.train.val_split > 0 else None
    early = EarlyStopping(settings.early_stopping, settings.patience) if settings.early_stopping else None
    writer = RunWriter(run, engine, monitor, early)
    from ..training.trackers import create_trackers  # local: this edit leaves the module's import block alone

    # Trackers after the writer: a tracker never holds an epoch the run directory has not committed.
    cbs = [c for c in (early, writer, Progress(quiet=settings.quiet)) if c is not None] + create_trackers(run, settings)
    cbs += list(extra_callbacks)  # the caller's own (a tuner's pruning, a benchmark's probe): after the commit
    return cbs, writer, early


def preprocess_record(ds: Dataset, normalizer: Normalizer) -> dict:
    """preprocess.json: the data's shape and classes, how ``predict`` prepares an image, the normalisation."""
    return {
        "dataset": ds.name,
        "image_shape": list(ds.image_shape),
        "class_names": list(ds.class_names),
        "style": preprocessing_style(ds.name, ds.image_shape),
        "dark_background": has_dark_background(ds.X_train),
        **normalizer.to_dict(),
    }


def _absolute_paths(settings: RunSettings) -> None:
    """Record data locations as absolute paths, so evaluate/resume work from any directory."""
    from ..data import absolute_dataset_name  # local: this edit leaves the module's import block alone

    if settings.root:
        settings.root = str(Path(settings.root).expanduser().resolve())
    settings.dataset = absolute_dataset_name(settings.dataset)
    if settings.init_from:
        settings.init_from = str(Path(settings.init_from).expanduser().resolve())


def _transfer(settings: RunSettings, engine, initialise: bool) -> Phases | None:
    """The run's phases (which layers train when), after copying the ``--init-from`` weights if ``initialise``.

    A resumed run initialises only when no epoch was committed: a checkpoint holds the weights since.
    """
    phases = plan_phases(engine.spec, settings.freeze, settings.unfreeze_after, settings.head_lr, settings.train.lr)
    if initialise and settings.init_from:
        source = source_weights(settings.init_from, engine.spec)
        fresh = initialise_from(engine, source, settings.init_from, settings.new_head)
        if not settings.quiet:
            head = f"; new head: {', '.join(fresh)}" if fresh else ""
            print(f"weights from {settings.init_from}{head}", file=sys.stderr)
    return phases


def train_run(settings: RunSettings, *, exact_name: bool = False, extra_callbacks: Sequence[Callback] = ()) -> Path:
    """Train a model as ``settings`` say; returns the run directory.

    A run name that is taken gets a numeric suffix; with ``exact_name`` it is an error (a study's runs).
    ``extra_callbacks`` are called after the run's own, once each epoch is committed to the run directory.
    """
    check_run(settings)  # every value and the rules between them, before anything is loaded or written
    _absolute_paths(settings)
    seed_everything(settings.train.seed)
    ds = _load(settings)
    spec = _spec(settings, ds)
    engine = _engine(settings, spec)
    phases = _transfer(settings, engine, initialise=True)  # before the run directory: its errors leave none
    # A spec's name is free text ("my net"); in the default run name it becomes a folder-safe word ("my-net").
    model_word = re.sub(f"[^{NAME_CHARS}]+", "-", spec["name"]).strip("-.") or "model"
    name = settings.name or run_name(ds.name, model_word, engine.name, settings.variant)
    run, lock = claim_run_dir(settings.runs_dir, name, exact=exact_name)
    with lock:
        try:
            _train_into(run, settings, ds, spec, engine, extra_callbacks, phases)
        except BaseException:
            if not (run / "checkpoint" / PROGRESS).exists():  # nothing to resume: leave no half-made run behind
                shutil.rmtree(run, ignore_errors=True)
            raise
    return RunDir(run)


def _train_into(
    run: Path, settings: RunSettings, ds: Dataset, spec: dict, engine, extra_callbacks=(), phases: Phases | None = None
) -> None:
    """Write the run's records, train and evaluate, into a new run directory whose lock the caller holds."""
    with writing(run):
        for folder in ("weights", "checkpoint", "plots"):
            (run / folder).mkdir()
    write_yaml(run / "config.yaml", {**settings.to_dict(), "spec": spec})
    write_json(run / "env.json", environment(engine, settings.train.seed))
    callbacks, writer, _ = _callbacks(settings, run, engine, extra_callbacks)
    loop = TrainingLoop(engine, ds, settings.train, callbacks, phases=phases)
    write_json(run / "preprocess.json", preprocess_record(ds, loop.normalizer))
    if not settings.quiet:
        print(
            f"run {run}: {spec['name']} ({engine.param_count():,} parameters) on {ds.name} with the "
            f"{engine.name} engine",
            file=sys.stderr,
        )
    history = loop.run()
    _finish(run, settings, engine, ds, loop.normalizer, history)


def resume_run(run_dir: str | Path) -> Path:
    """Continue an interrupted run from its last committed epoch (weights, optimiser, schedule, batches).

    The run's lock is held throughout: a run another process is writing is an error, never a second writer.
    """
    run = Path(run_dir)
    config = read_yaml(run / "config.yaml", "run config")
    with located(str(run / "config.yaml")):  # an edited config.yaml is checked like any other
        settings = RunSettings.from_dict(config)
        check_run(settings)
    if "select" not in (config.get("train") or {}):  # written before train.select existed: keep its rule
        settings.train.select = "best-val-loss" if settings.early_stopping == "val_loss" else "best-val-acc"
    with run_lock(run.parent, run.name):
        _resume(run, settings, config)
    return RunDir(run)


def _resume(run: Path, settings: RunSettings, config: dict) -> None:
    """``resume_run`` with the run's lock held: restore the committed epoch, publish it again, train on."""
    if run_state(run).status == FINISHED:
        raise ImgbenchError(f"{run}: this run already finished (metrics.json exists); nothing to resume")
    seed_everything(settings.train.seed)
    ds = _load(settings)
    engine = _engine(settings, _spec(settings, ds, config.get("spec")))
    committed = read_checkpoint(run, engine.name)
    discard_uncommitted(run, committed)
    phases = _transfer(settings, engine, initialise=committed is None)
    normalizer = Normalizer.from_dict(read_json(run / "preprocess.json"))
    callbacks, writer, _ = _callbacks(settings, run, engine)
    loop = TrainingLoop(engine, ds, settings.train, callbacks, normalizer=normalizer, phases=phases)
    start = 0
    if committed is not None:
        if phases is not None:  # the optimiser state on disk is over the layers the last epoch trained
            phases.apply(engine, committed.epochs_done - 1)
        try:
            engine.load_checkpoint(committed.state)
        except ImgbenchError as exc:
            raise DamagedCheckpointError(str(exc)) from None
        writer.restore(committed)
        committed.publish()  # a kill may have come between the commit and the publication
        start = committed.epochs_done
        if committed.progress.get("stopped_early"):
            start = settings.train.epochs  # early stopping had ended it: only the evaluation is missing
    if not settings.quiet:
        print(f"resuming {run} after epoch {start}", file=sys.stderr)
    history = loop.run(start_epoch=start, history=History(list(writer.rows)))
    _finish(run, settings, engine, ds, normalizer, history)


def _test_metrics(engine, ds, X, y) -> tuple[dict, np.ndarray]:
    logits = engine.predict_logits(X)
    metrics = classification_metrics(y, logits, ds.class_names)
    metrics["param_count"] = engine.param_count()
    metrics.update(inference_speed(engine, X))
    return metrics, logits


def _finish(run: Path, settings: RunSettings, engine, ds, normalizer: Normalizer, history: History) -> None:
    """Evaluate the kept weights once on the test split (or, for a tuning trial, the validation split);
    write metrics.json and the plots."""
    from ..viz import plot_confusion_matrix, plot_curves

    suffix = WEIGHT_SUFFIX[engine.name]
    engine.load(run / "weights" / f"best{suffix}")
    t = time.perf_counter()
    if settings.evaluate == "val":  # a trial: scored where it was selected; no test images, no timing
        _, _, X, y = split_for_training(ds, settings.train)
        logits = engine.predict_logits(normalizer(X))
        metrics = {**classification_metrics(y, logits, ds.class_names), "param_count": engine.param_count()}
    else:
        X, y = ds.X_test, ds.y_test
        metrics, logits = _test_metrics(engine, ds, normalizer(X), y)
    write_predictions(run / "predictions.npz", y, logits)
    metrics.update(
        {
            "split": settings.evaluate,
            "weights": f"weights/best{suffix}",
            "epochs_trained": len(history.rows),
            "training_seconds": float(sum(r["seconds"] for r in history.rows)),
            "evaluation_seconds": time.perf_counter() - t,
            "dataset": ds.name,
            "model": engine.spec["name"],
            "engine": engine.name,
        }
    )
    title = f"{engine.spec['name']} / {engine.name} on {ds.name}"
    if history.rows:
        plot_curves(history.rows, run / "plots" / "curves.png", title)
    plot_confusion_matrix(
        metrics["confusion_matrix"],
        ds.class_names,
        run / "plots" / "confusion_matrix.png",
        f"{title}: {settings.evaluate} accuracy {metrics['accuracy']:.4f}",
    )
    # metrics.json last: it marks the run finished (studies skip such runs), so everything else must exist.
    write_json(run / "metrics.json", metrics)
    index_finished_run(run)
    # After metrics.json, which the trackers upload; they also close their runs here.
    from ..training.trackers import log_results

    log_results(run, settings, metrics)
    if not settings.quiet:
        print(
            f"{settings.evaluate} accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['f1_macro']:.4f} -> {run}",
            file=sys.stderr,
        )


def open_run(run_dir: str | Path, weights: str = "best", threads: int | None = None):
    """``(settings, engine, preprocess)`` of a finished or interrupted run, weights loaded.

    The engine is rebuilt from the spec recorded in config.yaml, so no dataset is needed.  ``threads`` replaces
    the run's torch thread count (a server predicting one image at a time wants 1: a pool sized for batches
    only fights the server for the cores); other engines have no such setting and ignore it.
    """
    run = Path(run_dir)
    if not (run / "config.yaml").exists():
        raise ImgbenchError(f"{run}: not a run directory (no config.yaml)")
    config = read_yaml(run / "config.yaml", "run config")
    if config.get("recipe"):  # imgbench speedrun: a network of its own, not a spec
        raise ImgbenchError(
            f"{run}: a run of the {config['recipe']} recipe, whose network is not a zoo model, so it cannot be "
            "reopened; its test results are in metrics.json and predictions.npz"
        )
    with located(str(run / "config.yaml")):  # an edited config.yaml: its errors name the file
        settings = RunSettings.from_dict(config)
    if threads is not None and settings.engine == "torch":
        settings.threads = threads
    if "spec" not in config:
        raise ImgbenchError(f"{run / 'config.yaml'}: no model spec recorded")
    engine = _engine(settings, resolve(config["spec"]))
    path = run / "weights" / f"{weights}{WEIGHT_SUFFIX[engine.name]}"
    if not path.exists():
        raise ImgbenchError(f"{path}: no such weights file (has the run finished an epoch?)")
    engine.load(path)
    return settings, engine, read_json(run / "preprocess.json")


def split_images(run_dir: str | Path, settings: RunSettings, split: str) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """The run's dataset and the uint8 images and labels of its ``test`` or ``val`` split.

    The validation split is drawn again from the training data exactly as training drew it.
    """
    ds = _load(settings)
    if split == "test":
        return ds, ds.X_test, ds.y_test
    if split == "val":
        _, _, X, y = split_for_training(ds, settings.train)
        if len(y) == 0:
            raise ImgbenchError(f"{run_dir}: trained with --val-split 0, so there is no validation split")
        return ds, X, y
    raise ImgbenchError(f"unknown split '{split}': expected test or val")


def evaluate_run(run_dir: str | Path, split: str = "test", weights: str = "best") -> dict:
    """Recompute the metrics of a run from its saved weights, on the test or validation split."""
    run = Path(run_dir)
    settings, engine, pre = open_run(run, weights)
    ds, X, y = split_images(run, settings, split)
    path = run / "weights" / f"{weights}{WEIGHT_SUFFIX[engine.name]}"
    normalizer = Normalizer.from_dict(pre)
    metrics, _ = _test_metrics(engine, ds, normalizer(X), y)
    metrics.update({"split": split, "weights": str(path.relative_to(run))})
    return Metrics(metrics)
