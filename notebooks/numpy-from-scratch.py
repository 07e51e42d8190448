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
# # A NumPy network from scratch: forward, backward, gradient check
#
# This notebook builds a small convolutional network out of the layers of imgbench's NumPy engine
# (`imgbench.engines.numpy`), checks every gradient it computes against finite differences in float64,
# and then trains it with a hand-written loop. Nothing here uses PyTorch or TensorFlow.
#
# Every NumPy layer has the same contract:
#
# - `params` and `grads`: dicts of arrays with the same keys;
# - `forward(x, *, training)`: computes the output and caches what backward needs;
# - `backward(dy) -> dx`: *adds* the parameter gradients into `grads` and returns the gradient
#   with respect to the input.
#
# The constants below are the reader's settings. With `IMGBENCH_NOTEBOOK_SMALL=1` (what CI sets) the
# notebook trains on the embedded 8x8 `digits` for one epoch, so it runs in seconds.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import imgbench
from imgbench.engines.numpy import (
    SGD,
    Adam,
    Conv2D,
    Dense,
    Flatten,
    MaxPool2D,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
)

SMALL = os.environ.get("IMGBENCH_NOTEBOOK_SMALL") == "1"
ROOT = Path(os.environ.get("IMGBENCH_DATA", "../../shared/datasets"))  # the offline copies of the datasets
# MNIST when it is on disk and the full settings are asked for; otherwise the embedded 8x8 digits.
DATASET = "mnist" if (ROOT / "mnist").is_dir() and not SMALL else "digits"
EPOCHS = 5 if SMALL else 3  # digits: 23 steps an epoch; MNIST: 938
BATCH_SIZE = 64
LEARNING_RATE = 5e-3
SEED = 0

# %% [markdown]
# ## 1. One dense layer, by hand
#
# Each layer's docstring states its maths, forward first, then backward:

# %%
print(Dense.__doc__)

# %% [markdown]
# A dense layer with 3 inputs and 2 outputs on a batch of 4. The weight is stored as (outputs, inputs),
# PyTorch's layout, so the forward pass is `x @ W.T + b`.

# %%
rng = np.random.default_rng(SEED)
dense = Dense(3, 2, rng=rng, name="dense")
x = rng.standard_normal((4, 3)).astype(np.float32)
y = dense.forward(x)
print("W", dense.params["weight"].shape, "b", dense.params["bias"].shape, "-> y", y.shape)
np.testing.assert_allclose(y, x @ dense.params["weight"].T + dense.params["bias"], rtol=1e-6)

# %% [markdown]
# Backward takes `dL/dy` and returns `dL/dx`. With `L = sum(y)`, `dL/dy` is all ones, so
# `dL/db` counts the batch (4 per output) and `dL/dW` sums the inputs over the batch.

# %%
dense.zero_grad()
dx = dense.backward(np.ones_like(y))
print("dL/db =", dense.grads["bias"])
np.testing.assert_allclose(dense.grads["weight"], np.ones((2, 4)) @ x, rtol=1e-6)
np.testing.assert_allclose(dx, np.ones((4, 2)) @ dense.params["weight"], rtol=1e-6)

# %% [markdown]
# Gradients *accumulate*: a second backward pass adds to `grads` until `zero_grad()` clears them.
# That is what lets a model sum the gradients of two half-batches into the step of the whole batch.

# %%
dense.backward(np.ones_like(y))
print("after two backward passes, dL/db =", dense.grads["bias"])

# %% [markdown]
# ## 2. A small CNN and the loss
#
# Conv2D (3x3, padding 1) -> ReLU -> 2x2 max-pool -> Flatten -> Dense -> softmax cross-entropy.
# The loss is fused with the softmax and computed on the logits through log-sum-exp, so it never takes
# the log of a probability that rounded to zero.

# %%
print(Conv2D.__doc__)
print(MaxPool2D.__doc__)
print(SoftmaxCrossEntropy.__doc__)

# %%
ds = imgbench.load_dataset(DATASET, root=ROOT if ROOT.is_dir() else None)
channels, height, width = ds.image_shape
print(ds.name, ds.X_train.shape, ds.X_test.shape, "classes:", ds.class_names)


def make_cnn(rng: np.random.Generator, filters: int = 8) -> Sequential:
    """conv 3x3 (same) -> ReLU -> max-pool 2x2 -> flatten -> dense to the classes."""
    return Sequential(
        [
            Conv2D(channels, filters, 3, padding=1, rng=rng, name="conv1"),
            ReLU(name="relu1"),
            MaxPool2D(2, name="pool1"),
            Flatten(name="flatten"),
            Dense(filters * (height // 2) * (width // 2), ds.num_classes, rng=rng, name="dense"),
        ]
    )


model = make_cnn(np.random.default_rng(SEED))
for name, layer in model.named_layers():
    print(f"{name:8s}", {k: v.shape for k, v in layer.params.items()})

# %% [markdown]
# ## 3. Gradient check in float64
#
# The backward pass is correct when it agrees with the central difference
# `(L(p + h) - L(p - h)) / 2h` for every parameter `p`. In float32 the rounding error of `L` swamps
# a difference that small, so the check casts the network to float64 (`astype`), where `h = 1e-6`
# leaves a relative error near 1e-9 for a correct gradient and near 1 for a wrong one.
#
# A tiny network (2 filters on 2 images) keeps the number of forward passes small: two per parameter.

# %%
H = 1e-6
check_rng = np.random.default_rng(SEED)
tiny = make_cnn(check_rng, filters=2).astype(np.float64)
xb = check_rng.standard_normal((2, channels, height, width))
yb = np.array([0, 1])
loss_fn = SoftmaxCrossEntropy()


def loss_of_params() -> float:
    return loss_fn.forward(tiny.forward(xb, training=True), yb)


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||): small when they agree, whatever their scale."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))


def numeric_grad(f, arr: np.ndarray) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to each element of ``arr`` (changed in place)."""
    grad = np.zeros_like(arr)
    for i in np.ndindex(arr.shape):
        old = arr[i]
        arr[i] = old + H
        plus = f()
        arr[i] = old - H
        minus = f()
        arr[i] = old
        grad[i] = (plus - minus) / (2 * H)
    return grad


tiny.zero_grad()
loss_of_params()
dx_analytic = tiny.backward(loss_fn.backward())
errors = {}
for name, layer in tiny.named_layers():
    for key, param in layer.params.items():
        errors[f"{name}.{key}"] = rel_error(layer.grads[key], numeric_grad(loss_of_params, param))
errors["input"] = rel_error(dx_analytic, numeric_grad(loss_of_params, xb))
for name, err in errors.items():
    print(f"{name:14s} relative error {err:.1e}")
assert max(errors.values()) < 1e-6, errors

# %% [markdown]
# A check that cannot fail proves nothing. Break the backward pass on purpose, here ReLU's, which
# should pass the gradient only where the input was positive, and the check catches it:

# %%
relu = tiny.layers[1]
correct_backward = relu.backward
relu.backward = lambda dy: dy  # wrong: lets the gradient through where the ReLU was off
tiny.zero_grad()
loss_of_params()
tiny.backward(loss_fn.backward())
wrong = rel_error(tiny.layers[0].grads["weight"], numeric_grad(loss_of_params, tiny.layers[0].params["weight"]))
relu.backward = correct_backward
print(f"conv1.weight with a broken ReLU backward: relative error {wrong:.1e}")
assert wrong > 1e-3

# %% [markdown]
# ## 4. Training with a hand-written loop
#
# An optimiser updates (name, parameter, gradient) triples in place; `Adam` and `SGD` follow
# `torch.optim`'s update rules exactly. One step is: zero the gradients, forward, loss, backward, step.

# %%
print(SGD.__doc__)
print(Adam.__doc__)


def parameters(net: Sequential):
    """The (name, parameter, gradient) triples an optimiser updates."""
    return [(f"{n}.{k}", layer.params[k], layer.grads[k]) for n, layer in net.named_layers() for k in layer.params]


X_train = ds.X_train.astype(np.float32) / 255.0
X_test = ds.X_test.astype(np.float32) / 255.0
model = make_cnn(np.random.default_rng(SEED))
optimizer = Adam(parameters(model), lr=LEARNING_RATE)
loss_fn = SoftmaxCrossEntropy()
shuffle = np.random.default_rng(SEED)
losses = []
for epoch in range(EPOCHS):
    order = shuffle.permutation(len(X_train))  # a new order every epoch
    for start in range(0, len(order), BATCH_SIZE):
        batch = order[start : start + BATCH_SIZE]
        model.zero_grad()
        logits = model.forward(X_train[batch], training=True)
        losses.append(loss_fn.forward(logits, ds.y_train[batch]))
        model.backward(loss_fn.backward())
        optimizer.step()
    print(f"epoch {epoch + 1}: last batch loss {losses[-1]:.3f}")


def accuracy(net: Sequential, X: np.ndarray, y: np.ndarray) -> float:
    predicted = np.concatenate([net.forward(X[i : i + 512]).argmax(axis=1) for i in range(0, len(X), 512)])
    return float((predicted == y).mean())


test_accuracy = accuracy(model, X_test, ds.y_test)
print(f"test accuracy after {EPOCHS} epoch(s): {test_accuracy:.2%}")
assert test_accuracy > 0.8  # far above chance (10%) even in the short CI run

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(losses, lw=0.8)
ax.set(xlabel="step", ylabel="training loss (batch)", title=f"{ds.name}: hand-written NumPy CNN")
plt.show()

# %% [markdown]
# ## 5. What the filters learnt
#
# The first layer's weights are ordinary arrays: (filters, input channels, 3, 3).

# %%
w = model.layers[0].params["weight"]
fig, axes = plt.subplots(1, w.shape[0], figsize=(1.2 * w.shape[0], 1.4))
for i, ax in enumerate(axes):
    ax.imshow(w[i].mean(axis=0), cmap="RdBu_r")
    ax.set_axis_off()
    ax.set_title(str(i), fontsize=8)
plt.show()

# %% [markdown]
# Next: `imgbench.train(imgbench.RunSettings(engine="numpy", ...))` runs the same engine with the
# shared training loop (validation split, schedules, checkpoints, run directories), and the
# `cnn-mnist` notebook looks inside a trained network.
