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
# # A CNN tutorial on CIFAR-10: augmentation, metrics and plots
#
# A small convolutional network (`keras-convnet`: the Keras example's two conv blocks) trained on CIFAR-10
# twice, without and with data augmentation, then judged the usual ways: learning curves, accuracy,
# per-class precision/recall/F1 and the confusion matrix.
#
# CIFAR-10 is read from its image-folder copy (`cifar10-jpg`, a JPEG re-encoding: accuracies run slightly
# below those on the canonical files). With `IMGBENCH_NOTEBOOK_SMALL=1` (what CI sets) both runs train on
# a few hundred of its images for a few dozen steps: the mechanics, not the accuracies. Without the files
# the notebook uses the embedded 8x8 digits and `cnn-tiny`.

# %%
import csv
import os
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import imgbench

SMALL = os.environ.get("IMGBENCH_NOTEBOOK_SMALL") == "1"
ROOT = Path(os.environ.get("IMGBENCH_DATA", "../../shared/datasets"))  # the offline copies of the datasets
OUT = Path("output/cnn-augmentation")  # runs and figures
CIFAR_FOLDER = ROOT / "cifar10-jpg"
SMALL_PER_CLASS = {"train": 40, "test": 10}  # images per class copied for the small run
ENGINE = "torch"  # numpy and keras train the same spec
EPOCHS = 2 if SMALL else 20
MAX_STEPS = 12 if SMALL else 0  # per run; 0: no limit
SEED = 0

# %% [markdown]
# ## 1. The data

# %%
if CIFAR_FOLDER.is_dir() and SMALL:
    small = OUT / "cifar10-small"
    for split, count in SMALL_PER_CLASS.items():
        for class_dir in sorted((CIFAR_FOLDER / split).iterdir()):
            target = small / split / class_dir.name
            target.mkdir(parents=True, exist_ok=True)
            for image in sorted(class_dir.iterdir())[:count]:
                shutil.copy(image, target / image.name)
    DATASET, MODEL = f"folder:{small.resolve()}", "keras-convnet"
elif CIFAR_FOLDER.is_dir():
    DATASET, MODEL = f"folder:{CIFAR_FOLDER.resolve()}", "keras-convnet"  # decoded once, then cached
else:
    DATASET, MODEL = "digits", "cnn-tiny"
ds = imgbench.load_dataset(DATASET)
info = imgbench.describe(ds)
for split, stats in info["splits"].items():
    print(
        f"{split:5}: {stats['count']:6,d} images, per class {stats['class_counts']}, pixel mean {stats['pixel_mean']}"
    )

# %%
fig, axes = plt.subplots(2, 8, figsize=(10, 3))
for ax, i in zip(axes.flat, range(0, len(ds.X_train), max(1, len(ds.X_train) // 16)), strict=False):
    ax.imshow(ds.X_train[i].transpose(1, 2, 0).squeeze(), cmap="gray")
    ax.set_title(ds.class_names[ds.y_train[i]], fontsize=8)
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## 2. Augmentation
#
# Each epoch sees each training image changed a little at random, so the network cannot simply memorise
# the pixels. For colour photos the usual changes are a random crop (after padding by 4 pixels) and a
# horizontal flip; for digits and clothing, small shifts and rotations (a mirrored 2 is not a 2).
# `imgbench.Augmenter.for_dataset` picks accordingly; every engine gets the same augmented batches for
# a seed, because augmentation is done in NumPy before the batch reaches the engine.

# %%
augment = imgbench.Augmenter.for_dataset(ds.image_shape)
print(vars(augment))
rng = np.random.default_rng(SEED)
originals = ds.X_train[:4]
fig, axes = plt.subplots(4, 6, figsize=(8, 5.5))
for row, image in zip(axes, originals, strict=True):
    variants = [image] + [augment(image[None], rng)[0] for _ in range(5)]
    for ax, v in zip(row, variants, strict=True):
        ax.imshow(v.transpose(1, 2, 0).squeeze(), cmap="gray")
        ax.set_axis_off()
axes[0, 0].set_title("original", fontsize=8)
plt.show()

# %% [markdown]
# ## 3. Train twice: without and with augmentation
#
# Same model, same seed, same settings; only `augment` differs.

# %%
runs = {}
for augmented in (False, True):
    settings = imgbench.RunSettings.from_dict(
        {
            "dataset": DATASET,
            "model": MODEL,
            "engine": ENGINE,
            "name": f"cnn-{'augmented' if augmented else 'plain'}",
            "runs_dir": str(OUT / "runs"),
            "quiet": True,
            "train": {"epochs": EPOCHS, "batch_size": 64, "augment": augmented, "max_steps": MAX_STEPS, "seed": SEED},
        }
    )
    runs[augmented] = imgbench.train(settings)
    print(runs[augmented])

# %% [markdown]
# ## 4. Learning curves
#
# `history.csv` holds one row per epoch. Without augmentation, training accuracy runs away from validation
# accuracy (overfitting); with it, the gap stays small and validation accuracy ends higher (in the full run).


# %%
def history(run: Path) -> dict[str, np.ndarray]:
    """The run's history.csv as one array per column."""
    with open(run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: np.array([float(r[key]) for r in rows]) for key in rows[0]}


fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for augmented, run in runs.items():
    h = history(run)
    label = "augmented" if augmented else "plain"
    for ax, metric in zip(axes, ("loss", "acc"), strict=True):
        (line,) = ax.plot(h["epoch"], h[f"train_{metric}"], "--", label=f"{label}: train")
        ax.plot(h["epoch"], h[f"val_{metric}"], color=line.get_color(), label=f"{label}: validation")
        ax.set(xlabel="epoch", ylabel=metric)
axes[1].legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 5. Metrics on the test split
#
# The test split is scored once, with the weights that did best on validation. Accuracy alone hides
# which classes suffer; per-class F1 and the confusion matrix show it.

# %%
metrics = {augmented: imgbench.evaluate(run) for augmented, run in runs.items()}
for augmented, m in metrics.items():
    print(f"{'augmented' if augmented else 'plain':9}: accuracy {m['accuracy']:.2%}, macro F1 {m['f1_macro']:.3f}")
    assert 0.0 <= m["accuracy"] <= 1.0 and len(m["per_class"]) == ds.num_classes

fig, ax = plt.subplots(figsize=(9, 3))
width = 0.4
for shift, (augmented, m) in zip((-width / 2, width / 2), metrics.items(), strict=True):
    f1 = [m["per_class"][name]["f1"] for name in ds.class_names]
    ax.bar(np.arange(ds.num_classes) + shift, f1, width, label="augmented" if augmented else "plain")
ax.set_xticks(np.arange(ds.num_classes), ds.class_names, rotation=30, fontsize=8)
ax.set(ylabel="F1 on test", ylim=(0, 1))
ax.legend(fontsize=8)
plt.show()

# %%
display(Image(filename=runs[True] / "plots" / "confusion_matrix.png", width=520))
