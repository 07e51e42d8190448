import numpy as np
import pytest

from imgbench.data import (
    Augmenter,
    BatchIterator,
    Dataset,
    Normalizer,
    channel_stats,
    random_affine,
    random_crop,
    random_flip,
    stratified_split,
    train_val_split,
)
from imgbench.errors import DataFormatError


def test_stratified_split_preserves_proportions_and_is_seeded():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    keep, held = stratified_split(y, 0.2, seed=7)
    assert len(np.intersect1d(keep, held)) == 0 and len(keep) + len(held) == 200
    assert np.bincount(y[held]).tolist() == [20, 10, 6, 4]
    keep2, held2 = stratified_split(y, 0.2, seed=7)
    np.testing.assert_array_equal(held, held2)
    assert not np.array_equal(held, stratified_split(y, 0.2, seed=8)[1])


def test_stratified_split_needs_two_per_class():
    with pytest.raises(DataFormatError, match="class 2 has 1 example"):
        stratified_split(np.array([0, 0, 1, 1, 2]), 0.4, 0)


def test_train_val_split_comes_from_train_only(rng):
    X = rng.integers(0, 256, (50, 1, 2, 2), dtype=np.uint8)
    y = np.arange(50) % 5
    X_tr, y_tr, X_va, y_va = train_val_split(X, y, 0.2, seed=0)
    assert len(X_tr) == 40 and len(X_va) == 10 and np.bincount(y_va).tolist() == [2] * 5


def test_channel_stats_and_normalizer_fit_on_train(rng):
    X = rng.integers(0, 256, (64, 3, 5, 5), dtype=np.uint8)
    mean, std = channel_stats(X)
    flat = X.transpose(1, 0, 2, 3).reshape(3, -1).astype(np.float64)
    np.testing.assert_allclose(mean, flat.mean(axis=1))
    np.testing.assert_allclose(std, flat.std(axis=1))
    norm = Normalizer.fit(X)
    Z = norm(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=(0, 2, 3)), 1, atol=1e-4)
    again = Normalizer.from_dict(norm.to_dict())
    np.testing.assert_array_equal(again(X), Z)


def test_batches_identical_for_identical_seeds_and_cover_every_example(rng):
    X = np.arange(103, dtype=np.uint8).reshape(103, 1, 1, 1)
    y = np.arange(103)
    a = list(BatchIterator(X, y, 10, seed=5).epoch(0))
    b = list(BatchIterator(X, y, 10, seed=5).epoch(0))
    assert len(a) == 11
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert sorted(np.concatenate([yb for _, yb in a]).tolist()) == list(range(103))
    # Shuffled anew every epoch, and seed-dependent.
    assert not np.array_equal(a[0][1], next(BatchIterator(X, y, 10, seed=5).epoch(1))[1])
    assert not np.array_equal(a[0][1], next(BatchIterator(X, y, 10, seed=6).epoch(0))[1])
    assert len(BatchIterator(X, y, 10, drop_last=True)) == 10
    unshuffled = next(BatchIterator(X, y, 10, shuffle=False).epoch(3))[1]
    assert unshuffled.tolist() == list(range(10))


def test_batch_iterator_applies_augment_then_transform(rng):
    X = rng.integers(0, 256, (20, 1, 4, 4), dtype=np.uint8)
    it = BatchIterator(
        X,
        np.zeros(20, int),
        20,
        seed=1,
        shuffle=False,
        augment=lambda xb, r: xb[:, :, :, ::-1],
        transform=lambda xb: xb.astype(np.float32) / 255,
    )
    xb, _ = next(it.epoch(0))
    assert xb.dtype == np.float32
    np.testing.assert_allclose(xb, X[:, :, :, ::-1] / 255, rtol=1e-6)


def test_random_flip_mirrors_exactly(rng):
    X = rng.integers(0, 256, (50, 3, 4, 6), dtype=np.uint8)
    out = random_flip(X, np.random.default_rng(0))
    flipped = np.array([np.array_equal(o, x[:, :, ::-1]) for o, x in zip(out, X, strict=True)])
    same = np.array([np.array_equal(o, x) for o, x in zip(out, X, strict=True)])
    assert (flipped | same).all() and 10 < flipped.sum() < 40


def test_random_crop_shifts_content_and_pads_with_zero():
    X = np.zeros((200, 1, 8, 8), np.uint8)
    X[:, :, 3, 3] = 255
    out = random_crop(X, np.random.default_rng(0), padding=2)
    assert out.shape == X.shape and out.dtype == np.uint8
    pos = np.array([np.argwhere(o[0] == 255)[0] for o in out])
    assert set(pos[:, 0].tolist()) == {1, 2, 3, 4, 5} and set(pos[:, 1].tolist()) == {1, 2, 3, 4, 5}


def test_random_affine_zero_is_identity_and_small_moves_keep_mass(rng):
    X = rng.integers(0, 256, (10, 1, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(random_affine(X, rng, max_shift=0, max_degrees=0), X)
    blob = np.zeros((30, 1, 28, 28), np.uint8)
    blob[:, :, 10:18, 10:18] = 200
    out = random_affine(blob, np.random.default_rng(0), max_shift=2, max_degrees=10)
    kept = (out > 0).sum(axis=(1, 2, 3)) / 64
    assert (kept > 0.85).all() and (kept < 1.15).all()
    assert not np.array_equal(out, blob)


def test_augmenter_defaults_and_determinism(rng):
    X = rng.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8)
    aug = Augmenter.for_dataset((3, 32, 32))
    assert aug.flip and aug.crop_padding == 4 and aug.max_degrees == 0
    assert Augmenter.for_dataset((1, 28, 28)).flip is False  # a mirrored digit is another symbol
    a = aug(X, np.random.default_rng(3))
    np.testing.assert_array_equal(a, aug(X, np.random.default_rng(3)))
    assert a.shape == X.shape and a.dtype == np.uint8


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_augmentation_policies(rng, shape):
    X = rng.integers(0, 256, (64, *shape), dtype=np.uint8)
    auto = Augmenter.from_policy("auto", shape)
    assert vars(auto) == vars(Augmenter.for_dataset(shape))
    # "flip" only mirrors: every image is itself or its mirror, and both occur.
    out = Augmenter.from_policy("flip", shape)(X, np.random.default_rng(1))
    same = (out == X).all(axis=(1, 2, 3))
    mirrored = (out == X[..., ::-1]).all(axis=(1, 2, 3))
    assert (same | mirrored).all() and same.any() and mirrored.any()
    shift = Augmenter.from_policy("flip-shift", shape)
    assert shift.flip and shift.crop_padding == 2 and shift.max_degrees == 0
    assert not Augmenter.from_policy("shift-rotate", shape).flip
    assert Augmenter.from_policy("crop-flip", shape).crop_padding == shape[1] // 8


def test_augmentation_setting_is_checked():
    from imgbench.kinds import SettingError
    from imgbench.settings import TrainConfig

    assert TrainConfig().augmentation == "auto"
    with pytest.raises(SettingError, match="augmentation.*one of auto, crop-flip"):
        TrainConfig(augmentation="mirror")


def test_dataset_validates_labels_and_shapes():
    X = np.zeros((3, 1, 2, 2), np.uint8)
    with pytest.raises(DataFormatError, match="labels must lie in 0..1"):
        Dataset("t", X, np.array([0, 1, 2]), X, np.array([0, 0, 0]), ("a", "b"))
    with pytest.raises(DataFormatError, match="3 images but 2 labels"):
        Dataset("t", X, np.array([0, 1]), X, np.array([0, 0, 0]), ("a", "b"))


def test_public_api_names_resolve():
    import imgbench

    for name in imgbench.__all__:
        assert getattr(imgbench, name) is not None, name
    ds = imgbench.load_dataset("digits")
    assert ds.X_train.dtype.name == "uint8"
    assert imgbench.preset("quick").name == "quick"


@pytest.mark.parametrize(
    ("augment", "policy", "flip"), [(True, "flip", True), (True, "auto", False), (False, "flip", None)]
)
def test_training_loop_augments_as_the_setting_says(augment, policy, flip):
    from imgbench.settings import TrainConfig
    from imgbench.training.loop import TrainingLoop

    X = np.zeros((20, 1, 8, 8), np.uint8)
    ds = Dataset("t", X, np.arange(20) % 2, X[:4], np.arange(4) % 2, ("a", "b"))
    loop = TrainingLoop(None, ds, TrainConfig(augment=augment, augmentation=policy, val_split=0))
    got = loop.batches.augment
    assert (got is None) if flip is None else (got.flip is flip and got.max_degrees == (0 if flip else 10))
