"""Part of a dataset by name: ``NAME[5-9]`` (some classes, both splits, relabelled) and ``NAME@N`` (the first N
training images of each class, the test split whole), for every kind of dataset name."""

from __future__ import annotations

import re

import numpy as np
import pytest

from imgbench.data import load_dataset
from imgbench.data.names import Selection, absolute_dataset_name, parse_selection, resolve_name, short_name
from imgbench.errors import ImgbenchError


def test_names_keep_the_subset_through_every_question():
    assert parse_selection("mnist@10") == Selection("mnist", None, 10) and parse_selection("mnist") == Selection(
        "mnist"
    )
    assert parse_selection("mnist[5-9]@10") == Selection("mnist", (5, 6, 7, 8, 9), 10)
    assert parse_selection("cifar10[0, 2,4]").classes == (0, 2, 4)
    assert parse_selection("folder:/x@y/z") == Selection("folder:/x@y/z")  # an @ inside a path is the path's
    assert resolve_name("MNIST[5-9]@10") == "mnist[5-9]@10" and short_name("mnist[5-9]@10") == "mnist.5-9@10"
    assert short_name("mnist[0,2,4]") == "mnist.0+2+4"  # folder-safe: no brackets or commas for a shell to expand
    assert resolve_name("MNIST@10") == "mnist@10" and resolve_name("fashion_mnist@3") == "fashion-mnist@3"
    assert short_name("folder:/data/cifar10-jpg@100") == "cifar10-jpg@100"
    assert (
        absolute_dataset_name("folder:pics@5").startswith("folder:/")
        and absolute_dataset_name("folder:pics@5")[-2:] == "@5"
    )


@pytest.mark.parametrize("bad", ["mnist@", "mnist@0", "mnist@ten", "mnist@-3", "mnist@2.5"])
def test_a_bad_count_is_one_clear_error(bad):
    with pytest.raises(ImgbenchError, match="whole number of training images per class"):
        resolve_name(bad)


@pytest.mark.parametrize(
    "bad,needle",
    [
        ("mnist[5]", "at least two different classes"),
        ("mnist[1,1]", "at least two different classes"),
        ("mnist[9-5]", "as in [5-9] or [0,2,4]"),
        ("mnist[five]", "as in [5-9] or [0,2,4]"),
    ],
)
def test_bad_classes_are_one_clear_error(bad, needle):
    with pytest.raises(ImgbenchError, match=re.escape(needle)):
        resolve_name(bad)


def test_classes_keep_both_splits_of_those_classes_relabelled_with_their_names():
    full = load_dataset("digits")
    upper = load_dataset("digits[5-9]")
    assert upper.name == "digits[5-9]" and upper.class_names == ("5", "6", "7", "8", "9")
    np.testing.assert_array_equal(upper.X_test, full.X_test[full.y_test >= 5])
    np.testing.assert_array_equal(upper.y_test, full.y_test[full.y_test >= 5] - 5)
    np.testing.assert_array_equal(upper.y_train, full.y_train[full.y_train >= 5] - 5)
    few = load_dataset("digits[5-9]@3")  # classes first, then three training images of each
    assert np.bincount(few.y_train).tolist() == [3] * 5 and len(few.y_test) == len(upper.y_test)
    with pytest.raises(ImgbenchError, match=r"digits\[8-11\]: expected classes among 0-9, found 10, 11"):
        load_dataset("digits[8-11]")


def test_the_first_n_of_each_class_in_file_order_and_the_whole_test_split():
    full = load_dataset("digits")
    five = load_dataset("digits@5")
    assert five.name == "digits@5" and five.class_names == full.class_names
    assert np.bincount(five.y_train, minlength=10).tolist() == [5] * 10
    first = np.sort(np.concatenate([np.flatnonzero(full.y_train == k)[:5] for k in range(10)]))
    np.testing.assert_array_equal(five.X_train, full.X_train[first])  # the same images for every seed
    np.testing.assert_array_equal(five.X_test, full.X_test)
    assert five.meta["subset"] == {"per_class": 5, "of": "digits", "train_images": 50}
    many = load_dataset("digits@100000")  # more than a class has: all of it, and the record says which
    assert len(many.y_train) == len(full.y_train) and len(many.meta["subset"]["classes_with_fewer"]) == 10
