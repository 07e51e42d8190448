"""``imgbench speedrun``: the CIFAR-10 speed-run recipe (:mod:`imgbench.engines.torch.speedrun`) as a run directory.

The run directory holds what any finished run holds (config.yaml, env.json, preprocess.json, history.csv,
weights/best.pt, predictions.npz, metrics.json, plots/), so ``imgbench runs`` lists it and a study's
statistics can read its predictions.  Its network is the recipe's own rather than a zoo spec, so the commands
that rebuild a model from a spec (evaluate, predict, export) do not open it; config.yaml says ``recipe:``.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..data import Dataset, Normalizer, absolute_dataset_name, load_dataset
from ..errors import ImgbenchError
from ..evaluation import classification_metrics
from ..fileio import atomic_write, write_json, write_yaml, writing
from ..training.history import write_history
from .index import index_finished_run
from .predictions import write_predictions
from .results import RunDir
from .rundir import claim_run_dir, environment, run_name
from .runner import preprocess_record

RECIPE_NAME = "cifar10-speedrun"
MODEL_NAME = "speedrun-net"  # the model column of `imgbench runs`


def check_images(ds: Dataset) -> None:
    """The recipe's network ends in a 3x3 max-pool over maps 1/8 of the (whitened) image: 25 to 47 pixels a side."""
    c, h, w = ds.image_shape
    if not all(25 <= side <= 47 for side in (h, w)):
        raise ImgbenchError(
            f"{ds.name}: the {RECIPE_NAME} network takes images 25 to 47 pixels on a side (CIFAR-10's are 32x32), "
            f"but these are {h}x{w}; give --image-size 32 for a folder of larger images"
        )


def speedrun(
    dataset: str = "cifar10",
    root: str | None = None,
    *,
    seed: int = 0,
    epochs: float | None = None,
    tta_level: int | None = None,
    precision: str | None = None,
    image_size: int | None = None,
    device: str = "auto",
    runs_dir: str = "runs",
    name: str | None = None,
    threads: int | None = None,
    quiet: bool = False,
) -> RunDir:
    """Train the speed-run recipe on ``dataset`` with ``seed`` and score it once on the test split.

    ``epochs``, ``tta_level`` and ``precision`` replace the recipe's defaults (24 epochs, test-time augmentation
    level 2, bf16 on CUDA or where the CPU has it).  ``device`` is the torch engine's choice (auto: CUDA, MPS,
    then the CPU).  Returns the run directory.
    """
    import torch

    from ..engines.torch import pick_device
    from ..engines.torch.speedrun import SpeedrunRecipe, use_bf16

    recipe = SpeedrunRecipe()
    changes: dict[str, Any] = {"epochs": epochs, "tta_level": tta_level, "precision": precision}
    recipe = replace(recipe, **{k: v for k, v in changes.items() if v is not None})  # checked here, before any work
    where = pick_device(device)  # an unavailable device is an error before anything is loaded
    if threads:
        torch.set_num_threads(threads)
    ds = load_dataset(dataset, root, image_size=image_size)
    check_images(ds)
    normalizer = Normalizer.fit(ds.X_train)
    run, lock = claim_run_dir(runs_dir, name or f"{run_name(ds.name, 'speedrun', 'torch')}-seed{seed}")
    with lock:
        try:
            with writing(run):
                for folder in ("weights", "plots"):
                    (run / folder).mkdir()
            config = {
                "recipe": RECIPE_NAME,
                "dataset": absolute_dataset_name(dataset),  # as a run records it: usable from any directory
                "root": str(Path(root).expanduser().resolve()) if root else None,
                "image_size": image_size,
                "device": device,
                "model": MODEL_NAME,
                "engine": "torch",
                "train": {"seed": seed},
                "speedrun": recipe.to_dict(),
            }
            write_yaml(run / "config.yaml", config)
            env = environment(SimpleNamespace(name="torch", device=where), seed)
            env["precision"] = "bf16" if use_bf16(recipe.precision, where) else "fp32"
            write_json(run / "env.json", env)
            write_json(run / "preprocess.json", preprocess_record(ds, normalizer))
            _train_and_score(run, ds, normalizer, recipe, seed, where, quiet)
        except BaseException:
            if not (run / "metrics.json").exists():  # no resume for a run this short: leave nothing half-made
                shutil.rmtree(run, ignore_errors=True)
            raise
    return RunDir(run)


def _train_and_score(run: Path, ds: Dataset, normalizer: Normalizer, recipe, seed: int, device, quiet: bool) -> None:
    import torch

    from ..engines.torch.speedrun import predict_logits, train_speedrun

    rows: list[dict] = []

    def on_epoch(row: dict) -> None:
        rows.append({**row, "val_loss": float("nan"), "val_acc": float("nan")})  # every image trains: no validation
        write_history(run / "history.csv", rows)
        if not quiet:
            print(
                f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, accuracy {row['train_acc']:.4f} "
                f"({row['seconds']:.1f} s)",
                file=sys.stderr,
            )

    if not quiet:
        print(f"run {run}: the {RECIPE_NAME} recipe on {ds.name}, {recipe.epochs:g} epochs", file=sys.stderr)
    X = torch.from_numpy(normalizer(ds.X_train))
    net = train_speedrun(recipe, X, torch.from_numpy(ds.y_train).long(), seed, on_epoch, device)
    with atomic_write(run / "weights" / "best.pt", "wb") as fh:
        torch.save(net.state_dict(), fh)
    t = time.perf_counter()
    X_test = torch.from_numpy(normalizer(ds.X_test))
    logits = predict_logits(net, X_test, recipe)
    evaluation_seconds = time.perf_counter() - t
    plain = predict_logits(net, X_test, replace(recipe, tta_level=0))
    metrics = classification_metrics(ds.y_test, logits, ds.class_names)
    write_predictions(run / "predictions.npz", ds.y_test, logits)
    metrics.update(
        {
            "split": "test",
            "weights": "weights/best.pt",
            "accuracy_without_tta": float((plain.argmax(1) == ds.y_test).mean()),
            "tta_level": recipe.tta_level,
            "param_count": int(sum(p.numel() for p in net.parameters())),
            "trainable_param_count": int(sum(p.numel() for p in net.parameters() if p.requires_grad)),
            "epochs_trained": len(rows),
            "training_seconds": float(sum(r["seconds"] for r in rows)),
            "evaluation_seconds": evaluation_seconds,
            "dataset": ds.name,
            "model": MODEL_NAME,
            "engine": "torch",
            "recipe": RECIPE_NAME,
        }
    )
    _plots(run, ds, rows, metrics)
    write_json(run / "metrics.json", metrics)  # last: it marks the run finished
    index_finished_run(run)
    if not quiet:
        print(
            f"test accuracy {metrics['accuracy']:.4f} with test-time augmentation "
            f"({metrics['accuracy_without_tta']:.4f} without) after {metrics['training_seconds']:.0f} s of "
            f"training -> {run}",
            file=sys.stderr,
        )


def _plots(run: Path, ds: Dataset, rows: list[dict], metrics: dict) -> None:
    from ..viz import plot_confusion_matrix, plot_curves

    title = f"{RECIPE_NAME} on {ds.name}"
    plot_curves(rows, run / "plots" / "curves.png", title)
    plot_confusion_matrix(
        metrics["confusion_matrix"],
        ds.class_names,
        run / "plots" / "confusion_matrix.png",
        f"{title}: test accuracy {metrics['accuracy']:.4f}",
    )
