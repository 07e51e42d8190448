"""``NAME@N``: the first N training images of each class, the test split whole, for every kind of dataset name."""

from __future__ import annotations

import numpy as np
import pytest

from imgbench.data import load_dataset
from imgbench.data.names import absolute_dataset_name, resolve_name, short_name, split_subset
from imgbench.errors import ImgbenchError


def test_names_keep_the_subset_through_every_question():
    assert split_subset("mnist@10") == ("mnist", 10) and split_subset("mnist") == ("mnist", None)
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
