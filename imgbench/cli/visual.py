"""``imgbench visualize|walkthrough|gallery|embedding``: figures of a trained run, and the convolution exercise."""

from __future__ import annotations

from ..kinds import definitions
from ..options import COMMAND_OPTIONS
from ..settings import TrainConfig
from .common import add_command, add_run_args, add_setting, picked, print_paths

# --method both draws both projections.
PROJECTIONS = {"pca": ("pca",), "tsne": ("tsne",), "both": ("pca", "tsne")}


def cmd_visualize(args) -> int:
    """filters, feature maps, probabilities and saliency for one image

    For a trained run (any engine): the first conv layer's filters, the feature maps of every conv and pool
    layer, the class probabilities and a saliency map, for an image file (preprocessed as 'predict' does) or
    a dataset image.
    """
    from ..runs.visualize import visualize_run

    return print_paths(visualize_run(args.run_dir, **picked(args, "out", "image", "index", "split", "weights")))


def cmd_walkthrough(args) -> int:
    """one convolution, ReLU and max-pool step on an image, in one figure

    The classic manual exercise, computed with the NumPy engine's own conv2d and max_pool2d: original,
    kernel, convolved map, ReLU, 2x2 max-pooled map.
    """
    from ..runs.visualize import walkthrough

    options = picked(args, "image", "dataset", "root", "index", "kernel", "stride", "padding")
    return print_paths([walkthrough(args.out, **options)])


def cmd_gallery(args) -> int:
    """sample predictions, the most confident mistakes, examples per class"""
    from ..runs.visualize import gallery

    return print_paths(gallery(args.run_dir, **picked(args, "out", "split", "weights", "count", "seed")))


def cmd_embedding(args) -> int:
    """PCA / t-SNE of the penultimate layer's activations, coloured by class"""
    from ..runs.visualize import embedding

    options = picked(args, "out", "split", "samples", "weights")
    return print_paths(embedding(args.run_dir, methods=PROJECTIONS[args.method], **options))


def register(sub) -> None:
    """``visualize``, ``walkthrough``, ``gallery`` and ``embedding``."""
    p = add_command(sub, "visualize", cmd_visualize)
    add_run_args(p)
    p.add_argument("--image", metavar="PATH", help="an image file")
    p.add_argument("--index", type=int, metavar="N", help="the N-th image of --split instead of a file")
    p.add_argument("--out", metavar="DIR", help="default RUN_DIR/plots/visualize")

    p = add_command(sub, "walkthrough", cmd_walkthrough)
    p.add_argument("image", nargs="?", metavar="IMAGE", help="an image file (or use --dataset)")
    p.add_argument("--dataset", help="take --index N of this dataset's test split instead")
    p.add_argument("--root", metavar="DIR", help="directory searched first for named datasets")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--kernel", default="edge", help="edge, blur, sharpen or learned:RUN_DIR[:FILTER] (default edge)")
    for option in ("stride", "padding"):
        add_setting(p, option, COMMAND_OPTIONS[option], own_default=True)
    p.add_argument("--out", metavar="DIR", default="walkthrough", help="default ./walkthrough")

    p = add_command(sub, "gallery", cmd_gallery)
    add_run_args(p)
    add_setting(p, "count", COMMAND_OPTIONS["count"], own_default=True)
    add_setting(p, "seed", definitions(TrainConfig)["seed"], help="which random images are shown", own_default=True)
    p.add_argument("--out", metavar="DIR", help="default RUN_DIR/plots")

    p = add_command(sub, "embedding", cmd_embedding)
    add_run_args(p)
    p.add_argument("--method", choices=list(PROJECTIONS), default="both")
    add_setting(p, "samples", COMMAND_OPTIONS["samples"], own_default=True)
    p.add_argument("--out", metavar="DIR", help="default RUN_DIR/plots")
