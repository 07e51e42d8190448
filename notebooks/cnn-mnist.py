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
# # A CNN on MNIST: convolution and pooling step by step, then inside a trained network
#
# The classic MNIST CNN (`cnn-small`: conv 16@5x5, max-pool, conv 32@5x5, max-pool, dense 64, dense 10),
# trained with imgbench's from-scratch NumPy engine. First the two operations it is made of, computed by
# hand on one digit; then the trained network's filters, feature maps, class probabilities and saliency.
#
# With `IMGBENCH_NOTEBOOK_SMALL=1` (what CI sets) training stops after a few dozen steps.

# %%
import os
from pathlib import Path

import numpy as np
from IPython.display import Image, display
from scipy.signal import correlate2d

import imgbench
from imgbench.engines.numpy import conv2d, max_pool2d

SMALL = os.environ.get("IMGBENCH_NOTEBOOK_SMALL") == "1"
ROOT = Path(os.environ.get("IMGBENCH_DATA", "../../shared/datasets"))  # the offline copies of the datasets
OUT = Path("output/cnn-mnist")  # runs and figures
# Without the MNIST files the notebook falls back to the embedded 8x8 digits and cnn-tiny
# (cnn-small's 5x5 convolutions do not fit 8x8 images).
DATASET, MODEL = ("mnist", "cnn-small") if (ROOT / "mnist").is_dir() else ("digits", "cnn-tiny")
ENGINE = "numpy"
# The `cnn-mnist` preset's recipe: 5 epochs, batch 128, Adam on a one-cycle schedule peaking at 5e-3
# (the classic study's constant 1e-3 stays under 99%).
# The 8x8 digits take 12 steps an epoch, so they get more epochs.
EPOCHS = 15 if DATASET == "digits" else 1 if SMALL else 5
MAX_STEPS = 40 if SMALL and DATASET == "mnist" else 0  # 0: no limit
INDEX = 0  # the test image the figures look at

# %% [markdown]
# ## 1. One convolution by hand
#
# A convolution layer slides a small kernel over the image and, at each position, sums the products of
# the kernel with the pixels under it (a cross-correlation, as in every framework):
# `out[i, j] = sum_{u,v} kernel[u, v] * image[i + u, j + v]`.
# An edge kernel (8 in the middle, -1 around) answers 0 on flat regions and strongly on strokes' borders.

# %%
ds = imgbench.load_dataset(DATASET, root=ROOT if ROOT.is_dir() else None)
image = ds.X_test[INDEX, 0].astype(np.float64) / 255.0
edge = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float64)
convolved = conv2d(image, edge)
print(f"{ds.name} test image {INDEX} (a {ds.class_names[ds.y_test[INDEX]]}): {image.shape} -> {convolved.shape}")

# %% [markdown]
# Without padding a 3x3 kernel loses one pixel on each side: `(H - k) // stride + 1`. The engine's
# `conv2d` (the same vectorised im2col code as the Conv2D layer) agrees with SciPy's textbook version:

# %%
np.testing.assert_allclose(convolved, correlate2d(image, edge, mode="valid"), atol=1e-12)
print("padding 1:", conv2d(image, edge, padding=1).shape, " stride 2:", conv2d(image, edge, stride=2).shape)

# %% [markdown]
# ReLU keeps the positive answers; 2x2 max-pooling keeps the strongest answer of each 2x2 block,
# halving the height and width. Here is the top-left corner of each step, rounded:

# %%
activated = np.maximum(convolved, 0)
pooled = max_pool2d(activated, 2, 2)
print("pooled", pooled.shape)
centre = slice(len(pooled) // 2 - 2, len(pooled) // 2 + 2)
print(np.round(pooled[centre, centre], 2))

# %% [markdown]
# `imgbench.walkthrough` draws the whole exercise (image, kernel, convolution, ReLU, pooling) with the
# values written in each cell where they fit:

# %%
figure = imgbench.walkthrough(OUT / "walkthrough", dataset=DATASET, root=ROOT if ROOT.is_dir() else None, index=INDEX)
display(Image(filename=figure))

# %% [markdown]
# ## 2. Train the CNN
#
# `imgbench.train` runs the shared training loop: 10% of the training set held out for validation
# (stratified, seeded), the training set shuffled every epoch, the test split scored once at the end
# with the weights that did best on validation. It returns the run directory.

# %%
settings = imgbench.RunSettings.from_dict(
    {
        "dataset": DATASET,
        "root": str(ROOT) if ROOT.is_dir() else None,
        "model": MODEL,
        "engine": ENGINE,
        "runs_dir": str(OUT / "runs"),
        "quiet": True,
        "train": {"epochs": EPOCHS, "batch_size": 128, "lr": 5e-3, "optimizer": "adam", "schedule": "onecycle"}
        | {"max_steps": MAX_STEPS},
    }
)
run = imgbench.train(settings)
print(run)
print(sorted(p.name for p in run.iterdir()))

# %%
display(Image(filename=run / "plots" / "curves.png"))

# %% [markdown]
# ## 3. Metrics
#
# `imgbench.evaluate` recomputes the test metrics from the saved weights: accuracy, per-class
# precision/recall/F1 and the confusion matrix (rows: true class, columns: predicted).

# %%
metrics = imgbench.evaluate(run)
print(
    f"test accuracy {metrics['accuracy']:.2%}, macro F1 {metrics['f1_macro']:.3f}, log loss {metrics['log_loss']:.3f}"
)
print(f"{'class':>6} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
for name, row in metrics["per_class"].items():
    print(f"{name:>6} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:6.3f} {row['support']:8d}")
assert metrics["accuracy"] > 0.5  # far above chance (10%) even after the short CI run

# %%
display(Image(filename=run / "plots" / "confusion_matrix.png"))

# %% [markdown]
# ## 4. Inside the network
#
# `imgbench.visualize` writes the first layer's filters, the feature maps of every convolution and
# pooling layer for one test image, the class probabilities and the saliency map (how much each pixel
# moves the top class's logit).

# %%
figures = imgbench.visualize(run, OUT / "visualize", index=INDEX)
for path in figures:
    print(path.name)
    display(Image(filename=path))

# %% [markdown]
# ## 5. The walkthrough with a learned filter
#
# The same exercise as in section 1, but with one of the filters the network learnt (averaged over its
# input channels) instead of the hand-made edge kernel. `learned:RUN:3` takes filter 3 of the first
# convolution; padding 1 keeps the image size.

# %%
figure = imgbench.walkthrough(
    OUT / "walkthrough-learned",
    dataset=DATASET,
    root=ROOT if ROOT.is_dir() else None,
    index=INDEX,
    kernel=f"learned:{run}:3",
    padding=1,
)
display(Image(filename=figure))
