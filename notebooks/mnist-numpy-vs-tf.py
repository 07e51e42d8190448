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
# # MNIST: a NumPy network from scratch against TensorFlow, and your own photographed digit
#
# The same fully-connected network (`mlp`: 784-256-128-10) trained by imgbench's from-scratch NumPy
# engine and by Keras on TensorFlow, beside a Keras CNN (`keras-convnet`), on the same data, splits and
# batches. Then a digit "photographed" on paper goes through the classic MNIST preprocessing and
# into each network.
#
# With `IMGBENCH_NOTEBOOK_SMALL=1` (what CI sets) each run stops after a few dozen steps.

# %%
import json
import os
from pathlib import Path

import numpy as np
from IPython.display import Image, display
from PIL import Image as PILImage
from PIL import ImageFilter

import imgbench

SMALL = os.environ.get("IMGBENCH_NOTEBOOK_SMALL") == "1"
ROOT = Path(os.environ.get("IMGBENCH_DATA", "../../shared/datasets"))  # the offline copies of the datasets
OUT = Path("output/mnist-numpy-vs-tf")  # runs and figures
DATASET = "mnist" if (ROOT / "mnist").is_dir() else "digits"  # the embedded 8x8 digits without the files
# (model, engine) pairs, as in the `mnist-numpy-vs-tf` preset; the CNN needs 28x28 images.
RUNS = [("mlp", "numpy"), ("mlp", "keras")] + ([("keras-convnet", "keras")] if DATASET == "mnist" else [])
EPOCHS = 1 if SMALL else 5
BATCH_SIZE = 128
MAX_STEPS = 40 if SMALL else 0  # 0: no limit
SEED = 0
DIGIT_INDEX = 0  # the test image that is "photographed" in section 3

# %% [markdown]
# ## 1. One spec, two engines
#
# A model is plain data: a list of layers with every default that differs between frameworks written
# out (initialisers, biases, padding). Every engine builds the same network from it, so the parameter
# counts agree.

# %%
ds = imgbench.load_dataset(DATASET, root=ROOT if ROOT.is_dir() else None)
spec = imgbench.build_spec("mlp", ds.image_shape, ds.num_classes)
for layer in spec["layers"]:
    print({k: v for k, v in layer.items() if k in ("name", "type", "units", "init", "bias")})

# %%
counts = {engine: imgbench.create_engine(engine, spec).param_count() for engine in ("numpy", "keras")}
print(counts)
assert counts["numpy"] == counts["keras"]

# %% [markdown]
# ## 2. Train each one
#
# One seed seeds Python, NumPy and TensorFlow; every engine sees the same validation split and the same
# batches in the same order. Each run's `metrics.json` holds its test metrics and timings
# (`imgbench.evaluate(run)` recomputes the metrics from the saved weights).

# %%
runs = {}
for model, engine in RUNS:
    settings = imgbench.RunSettings.from_dict(
        {
            "dataset": DATASET,
            "root": str(ROOT) if ROOT.is_dir() else None,
            "model": model,
            "engine": engine,
            "runs_dir": str(OUT / "runs"),
            "quiet": True,
            "train": {"epochs": EPOCHS, "batch_size": BATCH_SIZE, "max_steps": MAX_STEPS, "seed": SEED},
        }
    )
    runs[model, engine] = imgbench.train(settings)

print(f"{'model':14} {'engine':7} {'parameters':>10} {'test accuracy':>13} {'training s':>10} {'images/s':>9}")
for (model, engine), run in runs.items():
    m = json.loads((run / "metrics.json").read_text())  # the test metrics training wrote, with its timings
    print(
        f"{model:14} {engine:7} {m['param_count']:10,d} {m['accuracy']:13.2%} "
        f"{m['training_seconds']:10.1f} {m['throughput_images_per_s']:9,.0f}"
    )
    assert m["accuracy"] > 0.3  # well above chance (10%) even after the short CI run

# %% [markdown]
# The learning curves of the two `mlp` runs, side by side:

# %%
for engine in ("numpy", "keras"):
    display(Image(filename=runs["mlp", engine] / "plots" / "curves.png", width=480))

# %% [markdown]
# ## 3. Your own photographed digit
#
# A digit photographed on paper looks nothing like an MNIST image: dark ink on light paper, large,
# off-centre, slightly turned, noisy, unevenly lit, JPEG-compressed. This cell makes such a photo from a
# test image so that the notebook needs no file; to try your own, set `photo` to its path.

# %%
rng = np.random.default_rng(SEED)
digit = PILImage.fromarray(ds.X_test[DIGIT_INDEX, 0]).resize((240, 240), PILImage.Resampling.BICUBIC)
ink = 255 - np.asarray(digit.rotate(8, resample=PILImage.Resampling.BICUBIC), dtype=np.float64)  # dark on light
paper = np.full((360, 420), 255.0)
paper[50:290, 120:360] = np.minimum(paper[50:290, 120:360], ink)  # off-centre, on a larger sheet
lighting = np.linspace(0.75, 1.0, paper.shape[1])[None, :]  # brighter on the right
photo_pixels = np.clip(paper * 0.9 * lighting + rng.normal(0, 12, paper.shape), 0, 255).astype(np.uint8)
OUT.mkdir(parents=True, exist_ok=True)
photo = OUT / "my_digit.jpg"
PILImage.fromarray(photo_pixels).filter(ImageFilter.GaussianBlur(1.2)).save(photo, quality=80)
print(f"true class: {ds.class_names[ds.y_test[DIGIT_INDEX]]}")
display(Image(filename=photo, width=240))

# %% [markdown]
# `imgbench.predict` makes each image look like the training data. For MNIST-style models that is the
# classic preprocessing: invert when the paper is lighter than the ink, crop to the ink, fit it into
# 20x20 keeping the aspect ratio, and centre it by its centre of mass in 28x28.

# %%
for (model, engine), run in runs.items():
    [result] = imgbench.predict(run, [photo], top_k=3)
    top3 = ", ".join(f"{t['label']} ({t['probability']:.1%})" for t in result["top_k"])
    print(f"{model:14} {engine:7} -> {top3}")
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-4

# %% [markdown]
# `imgbench.visualize` with `image=` shows what the network received after that preprocessing (left),
# and the saliency map: how much each pixel moves the winning class's score.

# %%
figures = imgbench.visualize(runs["mlp", "numpy"], OUT / "visualize", image=photo)
for path in figures:
    display(Image(filename=path, width=560))
