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
# # Your own image folder
#
# Any folder of images is a dataset: `folder:PATH`, with one sub-folder per class. Either
# `PATH/train/<class>/*` and `PATH/test/<class>/*`, or just `PATH/<class>/*`, which imgbench splits 80/20
# (stratified, seeded). PNG, JPEG, BMP and WebP; grey or colour; any size with `image_size`.
#
# So that the notebook needs no files, it first draws a small folder of three classes of shapes (circles,
# squares, triangles) in different sizes, colours and formats. To use your own photos, point `FOLDER` at
# them and skip that cell. With `IMGBENCH_NOTEBOOK_SMALL=1` (what CI sets) there are fewer images and
# training stops after a few dozen steps.

# %%
import os
from pathlib import Path

import numpy as np
from IPython.display import Image, display
from PIL import Image as PILImage
from PIL import ImageDraw

import imgbench

SMALL = os.environ.get("IMGBENCH_NOTEBOOK_SMALL") == "1"
OUT = Path("output/image-folder")  # the generated folder, runs and figures
FOLDER = OUT / "shapes"  # your own: a folder with one sub-folder per class
IMAGE_SIZE = 32  # every image is resized to this square size
IMAGES_PER_CLASS = 60 if SMALL else 300
MODEL, ENGINE = "cnn-small", "numpy"
EPOCHS = 15
MAX_STEPS = 0  # 0: no limit; a number stops training after that many steps
SEED = 0

# %% [markdown]
# ## 1. A folder of images
#
# Each image: a dark shape of random size, position and colour on a light background of random colour, saved at a random
# size between 40 and 80 pixels, as PNG or JPEG.


# %%
def draw_shape(kind: str, rng: np.random.Generator) -> PILImage.Image:
    """One image of a circle, square or triangle."""
    side = int(rng.integers(40, 81))
    background, ink = rng.integers(150, 256, 3), rng.integers(0, 110, 3)  # a dark shape on light paper
    image = PILImage.new("RGB", (side, side), tuple(int(v) for v in background))
    draw = ImageDraw.Draw(image)
    r = side * rng.uniform(0.2, 0.4)
    cx, cy = rng.uniform(r, side - r, 2)
    fill = tuple(int(v) for v in ink)
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif kind == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return image


rng = np.random.default_rng(SEED)
for kind in ("circle", "square", "triangle"):
    (FOLDER / kind).mkdir(parents=True, exist_ok=True)
    for i in range(IMAGES_PER_CLASS):
        image = draw_shape(kind, rng)
        image.save(FOLDER / kind / f"{i:04d}.{'png' if i % 2 else 'jpg'}")
print(sorted(p.name for p in FOLDER.iterdir()), sum(1 for _ in FOLDER.rglob("*.*")), "files")

# %% [markdown]
# ## 2. Load it
#
# Images of different sizes are an error unless `image_size` resizes them. The decoded arrays are cached
# (keyed by the files' names, sizes and modification times), so a second load is fast.

# %%
dataset = f"folder:{FOLDER.resolve()}"
try:
    imgbench.load_dataset(dataset)
except imgbench.ImgbenchError as exc:
    print("without image_size:", exc)
ds = imgbench.load_dataset(dataset, image_size=IMAGE_SIZE)
info = imgbench.describe(ds)
print(ds.class_names, ds.image_shape)
for split, stats in info["splits"].items():
    print(f"{split:5}: {stats['count']} images, per class {stats['class_counts']}")

# %% [markdown]
# ## 3. Train, evaluate, predict

# %%
settings = imgbench.RunSettings.from_dict(
    {
        "dataset": dataset,
        "image_size": IMAGE_SIZE,
        "model": MODEL,
        "engine": ENGINE,
        "runs_dir": str(OUT / "runs"),
        "quiet": True,
        "train": {"epochs": EPOCHS, "batch_size": 16, "augment": True, "max_steps": MAX_STEPS, "seed": SEED},
    }
)
run = imgbench.train(settings)
metrics = imgbench.evaluate(run)
print(run, f"test accuracy {metrics['accuracy']:.2%}")
print(np.array(metrics["confusion_matrix"]))
display(Image(filename=run / "plots" / "curves.png", width=560))

# %% [markdown]
# A new image, drawn after training, at another size: `imgbench.predict` resizes it the way the training
# images were, and returns the top classes with their probabilities.

# %%
new = OUT / "new_triangle.png"
draw_shape("triangle", np.random.default_rng(SEED + 1)).resize((120, 120)).save(new)
[result] = imgbench.predict(run, [new], top_k=3)
print(", ".join(f"{t['label']} ({t['probability']:.1%})" for t in result["top_k"]))
display(Image(filename=new, width=120))

# %% [markdown]
# And what the network looks at: its first-layer filters, feature maps and saliency on that image.

# %%
for path in imgbench.visualize(run, OUT / "visualize", image=new):
    display(Image(filename=path, width=560))
