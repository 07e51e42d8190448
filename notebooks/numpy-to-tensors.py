# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # From NumPy to tensors on CIFAR-10
#
# The classic study: a fully-connected network written from scratch in NumPy, the same network in
# Keras/TensorFlow, and a Keras CNN, on CIFAR-10. The classic NumPy network stalled near chance (10%);
# written carefully (He initialisation, AdamW, a fused softmax cross-entropy), it does not. The CNN is
# stronger than the classic study's (BatchNorm, augmentation, bfloat16 mixed precision): the description
# below says what changed and why.
#
# This notebook runs the `numpy-to-tensors` preset with `imgbench.compare`: every run gets its own run
# directory, and the report is built from those directories only.
#
# With `IMGBENCH_NOTEBOOK_SMALL=1` (what CI sets) the study runs on a few hundred CIFAR-10 images copied
# into an image folder, with one seed and a few dozen steps per run: it shows the mechanics, not the
# accuracies. Without the dataset files it runs the same comparison on the embedded 8x8 digits.

# %%
import json
import os
import shutil
from pathlib import Path

from IPython.display import Image, Markdown, display

import imgbench

SMALL = os.environ.get("IMGBENCH_NOTEBOOK_SMALL") == "1"
ROOT = Path(os.environ.get("IMGBENCH_DATA", "../../shared/datasets"))  # the offline copies of the datasets
OUT = Path("output/numpy-to-tensors")  # the study: runs/, report.html, report.md
CIFAR_FOLDER = ROOT / "cifar10-jpg"  # the image-folder copy of CIFAR-10 (JPEG)
SMALL_PER_CLASS = {"train": 40, "test": 10}  # images per class copied for the small run
SMALL_TRAIN = {"epochs": 1, "max_steps": 30}

# %% [markdown]
# ## 1. The study
#
# A preset is an ordinary study: datasets x models x engines x seeds, and the training settings.

# %%
study = imgbench.preset("numpy-to-tensors")
print(study.description)
print("seeds", study.seeds, "train", study.train)
for group in study.groups:
    print(group)

# %% [markdown]
# The small run changes the study in place before running it: one seed, a few steps, and a folder of
# a few hundred CIFAR-10 images (`folder:PATH` is a dataset like any other). A group's own `train`
# settings (here its epochs) override the study's, so the small settings go into both.

# %%
if SMALL or not CIFAR_FOLDER.is_dir():
    study.seeds = [0]
    study.train.update(SMALL_TRAIN)
    for group in study.groups:
        group.setdefault("train", {}).update(SMALL_TRAIN)
    if CIFAR_FOLDER.is_dir():
        small = OUT / "cifar10-small"
        for split, count in SMALL_PER_CLASS.items():
            for class_dir in sorted((CIFAR_FOLDER / split).iterdir()):
                target = small / split / class_dir.name
                target.mkdir(parents=True, exist_ok=True)
                for image in sorted(class_dir.iterdir())[:count]:
                    shutil.copy(image, target / image.name)
        dataset = f"folder:{small.resolve()}"
    else:
        dataset = "digits"
    for group in study.groups:
        group["datasets"] = [dataset]
    print(study.groups)

# %% [markdown]
# ## 2. Run it
#
# Running the study again skips the runs that are finished, so an interrupted study picks up where it
# stopped. `workers=2` trains two runs at a time, each on its share of the cores.

# %%
out = imgbench.compare(study, OUT, root=str(ROOT) if ROOT.is_dir() else None, quiet=True)
print(sorted(p.name for p in out.iterdir()))

# %% [markdown]
# ## 3. Results
#
# Each run directory holds its `metrics.json`; the table below reads them, as the report does.

# %%
print(f"{'run':44} {'parameters':>10} {'test accuracy':>13} {'training s':>10}")
for run in sorted(p for p in (out / "runs").iterdir() if (p / "metrics.json").exists()):
    m = json.loads((run / "metrics.json").read_text())
    print(f"{run.name:44} {m['param_count']:10,d} {m['accuracy']:13.2%} {m['training_seconds']:10.1f}")

# %% [markdown]
# The report (`report.html`, self-contained, and `report.md`) puts the classic study's figures beside
# ours, with intervals over seeds and test images, pairwise comparisons, learning curves and confusion
# matrices. Its first section, and the learning curves (mean over seeds, min-max band):

# %%
report = (out / "report.md").read_text()
display(Markdown(report[: report.find("\n## ", report.find("\n## ") + 1)]))
print(sorted(f.name for f in (out / "report_files").glob("*.png")))
for curves in sorted((out / "report_files").glob("*-curves.png")):
    display(Image(filename=curves, width=640))
