"""Figures of a trained run, for any engine: what `visualize`, `walkthrough`, `gallery` and `embedding` write.

Everything goes through the common engine adapter (``activations``,
``input_gradient``, ``attention_maps``, ``state_dict``, ``predict_logits``), so NumPy, PyTorch and
Keras runs are shown the same way, feature maps in NCHW.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import Normalizer, load_dataset
from ..data.images import image_to_input
from ..errors import ImgbenchError
from ..evaluation import softmax
from ..specs import LAYERS, types_with, walk
from .runner import open_run, split_images

MAP_LAYERS = types_with("has_feature_maps")  # the layer types whose outputs are drawn as feature maps


def first_conv(spec: dict) -> str | None:
    """Name of the model's first convolution, if it has one."""
    return next((l["name"] for l in spec["layers"] if LAYERS[l["type"]].convolutional), None)


def _pick(X: np.ndarray, index: int, split: str) -> np.ndarray:
    if not 0 <= index < len(X):
        raise ImgbenchError(f"--index {index} is out of range: the {split} split has {len(X)} images (0..{len(X) - 1})")
    return X[index]


def visualize_run(
    run_dir, out=None, *, image=None, index: int | None = None, split: str = "test", weights: str = "best"
) -> list[Path]:
    """Filters of the first conv layer, feature maps of every conv/pool layer, class probabilities,
    saliency and, for a transformer, attention rollout for one image (a file, preprocessed as ``predict``
    does, or ``index`` of a split).

    The figures go to ``out``, by default ``RUN_DIR/plots/visualize``."""
    from ..viz.inside import plot_feature_maps, plot_filters, plot_probabilities, plot_saliency

    settings, engine, pre = open_run(run_dir, weights)
    names, shape = pre["class_names"], tuple(pre["image_shape"])
    if (image is None) == (index is None):
        raise ImgbenchError("give an image file or --index N (one of them)")
    if index is not None:
        _, X, y = split_images(run_dir, settings, split)
        raw = _pick(X, index, split)
        source = f"{split} image {index} (true class {names[int(y[index])]})"
    else:
        raw = image_to_input(image, shape, pre.get("style", "fit"), pre.get("dark_background", False))
        source = Path(image).name
    x = Normalizer.from_dict(pre)(raw[None])
    out = Path(out or Path(run_dir) / "plots" / "visualize")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    layers = engine.spec["layers"]
    conv = first_conv(engine.spec)
    label = f"{engine.spec['name']} / {engine.name}"
    if conv is not None:
        w = engine.state_dict()[f"{conv}.weight"]
        written.append(out / "filters.png")
        plot_filters(
            w,
            written[-1],
            f"{label}: the {w.shape[0]} filters of {conv} ({w.shape[2]}x{w.shape[3]}, "
            f"{w.shape[1]} input channel{'s' if w.shape[1] > 1 else ''})",
        )
    mapped = [l["name"] for l in layers if l["type"] in MAP_LAYERS]
    acts = engine.activations(x, mapped) if mapped else {}
    for i, name in enumerate(mapped, 1):
        written.append(out / f"feature_maps_{i:02d}_{name}.png")
        plot_feature_maps(name, acts[name][0], written[-1])
    probs = softmax(engine.predict_logits(x))[0]
    top = int(np.argmax(probs))
    written.append(out / "probabilities.png")
    plot_probabilities(probs, names, written[-1], f"{label} on {source}: {names[top]} ({probs[top]:.1%})")
    try:
        grad = engine.input_gradient(x, np.array([top]))[0]
    except ImgbenchError:
        grad = None  # e.g. Keras on a backend without gradients here: the other figures still stand
    if grad is not None:
        written.append(out / "saliency.png")
        plot_saliency(raw, grad, written[-1], f"{label}: saliency of class '{names[top]}' on {source}")
    maps = engine.attention_maps(x)
    if maps:  # a transformer: where its attention, followed through every layer, takes the classifier
        from ..viz.attention import attention_rollout, plot_attention_rollout, token_relevance

        patches, pooling = token_layout(engine.spec)
        tokens = next(iter(maps.values())).shape[-1]
        relevance = token_relevance(attention_rollout(list(maps.values())), tokens - patches, pooling)[0]
        written.append(out / "attention_rollout.png")
        how = "the class token's" if pooling == "class" else "the mean token's"
        plot_attention_rollout(
            raw, relevance, written[-1], f"{label}: attention rollout over {len(maps)} layers, {how} row, on {source}"
        )
    return written


def token_layout(spec: dict) -> tuple[int, str]:
    """``(patch tokens, pooling)`` of a transformer: the token count of its first token layer (the patch
    embedding, before any class token is added) and how its tokens reach the classifier (``class``, ``mean``)."""
    layers = list(walk(spec["layers"]))
    patches = next(int(l["output_shape"][0]) for l in layers if len(l["output_shape"]) == 2)
    pooling = next((l["mode"] for l in layers if l["type"] == "tokenpool"), "mean")
    return patches, pooling


def resolve_kernel(kernel: str) -> tuple[np.ndarray, str]:
    """``edge`` / ``blur`` / ``sharpen``, or ``learned:RUN_DIR[:FILTER]`` (a first-layer filter of a run)."""
    from ..engines.numpy.teaching import KERNELS

    if kernel in KERNELS:
        return KERNELS[kernel], kernel
    if kernel.startswith("learned:"):
        rest = kernel[len("learned:") :]
        run, _, which = rest.rpartition(":") if rest.rpartition(":")[2].isdigit() else (rest, "", "0")
        _, engine, _ = open_run(run)
        conv = first_conv(engine.spec)
        if conv is None:
            raise ImgbenchError(f"{run}: model '{engine.spec['name']}' has no convolution to take a kernel from")
        w = engine.state_dict()[f"{conv}.weight"]
        i = int(which)
        if i >= w.shape[0]:
            raise ImgbenchError(f"{run}: {conv} has {w.shape[0]} filters; filter {i} does not exist")
        return np.asarray(w[i]).mean(axis=0), f"learned ({conv} filter {i})"
    raise ImgbenchError(f"unknown kernel '{kernel}': expected edge, blur, sharpen or learned:RUN_DIR[:FILTER]")


def walkthrough(
    out,
    *,
    image=None,
    dataset: str | None = None,
    root=None,
    index: int = 0,
    kernel: str = "edge",
    stride: int = 1,
    padding: int = 0,
) -> Path:
    """The convolution / ReLU / max-pool exercise on an image file or a dataset image; returns the PNG."""
    from ..data.images import load_grey
    from ..viz.walkthrough import compute_walkthrough, plot_walkthrough

    if stride < 1 or padding < 0:
        raise ImgbenchError(f"--stride must be at least 1 and --padding at least 0, found {stride} and {padding}")
    if (image is None) == (dataset is None):
        raise ImgbenchError("give an image file or --dataset NAME (one of them)")
    if dataset is not None:
        ds = load_dataset(dataset, root)
        raw = _pick(ds.X_test, index, "test").astype(np.float64)
        grey = raw.mean(axis=0)  # colour images: the luminance-like channel mean
        source = f"{ds.name} test image {index}"
    else:
        grey = load_grey(image).astype(np.float64)  # large photos are shrunk: the figure shows pixels
        source = Path(image).name
    k, name = resolve_kernel(kernel)
    if k.shape[0] > min(grey.shape) + 2 * padding:
        raise ImgbenchError(f"kernel {k.shape[0]}x{k.shape[0]} is larger than the padded image {grey.shape}")
    w = compute_walkthrough(grey / 255.0, k, stride, padding, name)
    path = Path(out) / "walkthrough.png"
    Path(out).mkdir(parents=True, exist_ok=True)
    plot_walkthrough(w, path, f"convolution and pooling, step by step, on {source}")
    return path


def gallery(
    run_dir, out=None, *, split: str = "test", weights: str = "best", count: int = 24, seed: int = 0
) -> list[Path]:
    """Sample predictions (green right, red wrong), the most confident mistakes, and examples per class.

    The figures go to ``out``, by default ``RUN_DIR/plots``."""
    from ..viz.galleries import confident_mistakes, plot_examples_per_class, plot_mistakes, plot_predictions

    settings, engine, pre = open_run(run_dir, weights)
    names = pre["class_names"]
    ds, X, y = split_images(run_dir, settings, split)
    probs = softmax(engine.predict_logits(Normalizer.from_dict(pre)(X)))
    out = Path(out or Path(run_dir) / "plots")
    out.mkdir(parents=True, exist_ok=True)
    label = f"{engine.spec['name']} / {engine.name}"
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(X), size=min(count, len(X)), replace=False))
    written = [out / "predictions.png", out / "examples_per_class.png"]
    plot_predictions(
        X[pick],
        y[pick],
        probs[pick],
        names,
        written[0],
        f"{label}: random {split} images, predicted class (confidence)",
    )
    plot_examples_per_class(X, y, names, written[1], seed=seed, title=f"{ds.name}: {split} examples per class")
    wrong = confident_mistakes(y, probs, count)
    if len(wrong):
        written.append(out / "confident_mistakes.png")
        plot_mistakes(
            X[wrong], y, probs, wrong, names, written[-1], f"{label}: the most confident mistakes ({split}; #: index)"
        )
    return written


def penultimate_layer(spec: dict) -> str:
    """The layer whose output feeds the classifier (the last dense layer's input)."""
    layers = spec["layers"]
    last_dense = max(i for i, l in enumerate(layers) if LAYERS[l["type"]].classifier)
    for l in reversed(layers[:last_dense]):
        if not LAYERS[l["type"]].identity_at_inference:  # dropout: the same output as its input
            return l["name"]
    raise ImgbenchError(f"model '{spec['name']}' has no layer before its classifier")


def embedding(
    run_dir,
    out=None,
    *,
    methods=("pca", "tsne"),
    split: str = "test",
    samples: int = 2000,
    weights: str = "best",
    seed: int = 0,
) -> list[Path]:
    """2-D PCA and t-SNE of the penultimate layer's activations on a class-stratified test subset.

    The figures go to ``out``, by default ``RUN_DIR/plots``."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    from ..data.splits import stratified_split
    from ..viz.inside import plot_embedding

    settings, engine, pre = open_run(run_dir, weights)
    _, X, y = split_images(run_dir, settings, split)
    if samples < len(y):
        _, idx = stratified_split(y, samples / len(y), seed)
        X, y = X[idx], y[idx]
    layer = penultimate_layer(engine.spec)
    feats = engine.activations(Normalizer.from_dict(pre)(X), [layer])[layer].reshape(len(X), -1)
    out = Path(out or Path(run_dir) / "plots")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    label = f"{engine.spec['name']} / {engine.name}"
    for method in methods:
        if method == "pca":
            pca = PCA(2, random_state=seed).fit(feats)
            pts = pca.transform(feats)
            how = f"PCA ({pca.explained_variance_ratio_.sum():.0%} of the variance)"
        elif method == "tsne":
            start = PCA(min(50, feats.shape[1]), random_state=seed).fit_transform(feats)  # the usual denoising step
            pts = TSNE(2, init="pca", perplexity=min(30.0, (len(X) - 1) / 3), random_state=seed).fit_transform(start)
            how = "t-SNE"
        else:
            raise ImgbenchError(f"unknown projection '{method}': expected pca or tsne")
        written.append(out / f"embedding_{method}.png")
        plot_embedding(
            pts,
            y,
            pre["class_names"],
            written[-1],
            f"{label}: {how} of layer '{layer}' ({feats.shape[1]} features), {len(X)} {split} images",
        )
    return written
