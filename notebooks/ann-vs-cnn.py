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
# # A fully-connected network against a CNN with the same number of parameters
#
# Is a CNN better because it is bigger, or because of its structure? This study holds the parameter count
# fixed: about 128k parameters for each network on Fashion-MNIST, and 256k on CIFAR-10 (the widths are
# solved for the input), trained with the same settings in Keras.
#
# With `IMGBENCH_NOTEBOOK_SMALL=1` (what CI sets) the study runs with one seed and a few dozen steps per run,
# and CIFAR-10 is a few hundred images copied into an image folder: it shows the mechanics, not the
# accuracies. Without the dataset files it compares `mlp` with `cnn-tiny` on the embedded 8x8 digits.

# %%
import json
import os
import shutil
from pathlib import Path

from IPython.display import Image, Markdown, display

import imgbench

SMALL = os.environ.get("IMGBENCH_NOTEBOOK_SMALL") == "1"
ROOT = Path(os.environ.get("IMGBENCH_DATA", "../../shared/datasets"))  # the offline copies of the datasets
OUT = Path("output/ann-vs-cnn")  # the study: runs/, report.html, report.md
CIFAR_FOLDER = ROOT / "cifar10-jpg"  # the image-folder copy of CIFAR-10 (JPEG)
SMALL_PER_CLASS = {"train": 40, "test": 10}  # CIFAR-10 images per class copied for the small run
SMALL_TRAIN = {"epochs": 1, "max_steps": 30}
HAVE_DATA = (ROOT / "fashion-mnist").is_dir() and CIFAR_FOLDER.is_dir()

# %% [markdown]
# ## 1. Two networks, one budget
#
# The models are plain specs; the parameter count of a spec is the same in every engine. Here are the
# layers of each pair and their counts for each dataset's images:

# %%
for models, shape in ((("ann-128k", "cnn-125k"), (1, 28, 28)), (("ann-256k", "cnn-250k"), (3, 32, 32))):
    for model in models:
        spec = imgbench.build_spec(model, shape, 10)
        count = imgbench.create_engine("numpy", spec).param_count()
        layers = " > ".join(layer["type"] for layer in spec["layers"])
        print(f"{model:9} on {shape}: {count:8,d} parameters  {layers}")

# %%
study = imgbench.preset("ann-vs-cnn")
print(study.description)
print("seeds", study.seeds, "train", study.train)
for group in study.groups:
    print(group)

# %% [markdown]
# The small run changes the study in place before running it: one seed, a few steps, and a folder of
# a few hundred CIFAR-10 images (`folder:PATH` is a dataset like any other).

# %%
if SMALL or not HAVE_DATA:
    study.seeds = [0]
    study.train.update(SMALL_TRAIN)
    if HAVE_DATA:
        small = OUT / "cifar10-small"
        for split, count in SMALL_PER_CLASS.items():
            for class_dir in sorted((CIFAR_FOLDER / split).iterdir()):
                target = small / split / class_dir.name
                target.mkdir(parents=True, exist_ok=True)
                for image in sorted(class_dir.iterdir())[:count]:
                    shutil.copy(image, target / image.name)
        study.groups[1]["datasets"] = [f"folder:{small.resolve()}"]
    else:
        study.groups = [{"datasets": ["digits"], "models": ["mlp", "cnn-tiny"], "engines": ["keras"]}]
    print(study.groups)

# %% [markdown]
# ## 2. Run it
#
# Running the study again skips the runs that are finished, so an interrupted study picks up where it
# stopped. `workers=2` trains two runs at a time, each on its share of the cores.

# %%
out = imgbench.compare(study, OUT, root=str(ROOT) if ROOT.is_dir() else None, quiet=True)

print(f"{'run':48} {'parameters':>10} {'test accuracy':>13} {'macro F1':>8} {'training s':>10}")
for run in sorted(p for p in (out / "runs").iterdir() if (p / "metrics.json").exists()):
    m = json.loads((run / "metrics.json").read_text())
    scores = f"{m['accuracy']:13.2%} {m['f1_macro']:8.3f}"
    print(f"{run.name:48} {m['param_count']:10,d} {scores} {m['training_seconds']:10.1f}")

# %% [markdown]
# ## 3. The report
#
# The report answers the question with intervals rather than single numbers: each pairwise comparison
# gives the difference with its 95% interval over seeds and test images, a test, and one sentence.
# Below, the part of `report.md` about each dataset, then accuracy against parameters and training time.

# %%
report = (out / "report.md").read_text()
sections = report.split("\n## ")[1:]
for section in sections:
    if not section.startswith(("Runs", "Environment", "Reproduce")):
        display(Markdown("## " + section))
for tradeoff in sorted((out / "report_files").glob("*-tradeoff.png")):
    display(Image(filename=tradeoff, width=640))
