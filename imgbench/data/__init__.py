"""Datasets as uint8 NCHW arrays, shared by every engine.

Reading (the formats of :data:`~imgbench.data.formats.FORMATS`: IDX, CIFAR-10
pickles and binaries, scikit-learn's embedded digits, Kaggle CSV, image
folders), locating, downloading and caching, plus the helpers every engine
uses so that all of them see the same data: stratified splits, train-only
normalisation, augmentation and a seeded batch iterator.
"""

from .augment import Augmenter, random_affine, random_crop, random_flip
from .batching import BatchIterator, epoch_order
from .catalog import CATALOG, DatasetInfo
from .dataset import Dataset
from .formats import FORMATS, DatasetFormat
from .load import load_dataset
from .names import absolute_dataset_name, dataset_choices, format_of, resolve_name, short_name
from .splits import Normalizer, channel_stats, stratified_split, train_val_split
from .summary import describe

__all__ = [
    "Augmenter",
    "BatchIterator",
    "CATALOG",
    "Dataset",
    "DatasetFormat",
    "DatasetInfo",
    "FORMATS",
    "Normalizer",
    "absolute_dataset_name",
    "channel_stats",
    "dataset_choices",
    "describe",
    "epoch_order",
    "format_of",
    "load_dataset",
    "random_affine",
    "random_crop",
    "random_flip",
    "resolve_name",
    "short_name",
    "stratified_split",
    "train_val_split",
]
