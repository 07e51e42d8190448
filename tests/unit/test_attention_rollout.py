"""Attention rollout (Abnar & Zuidema 2020) on hand-worked examples: heads averaged, identity added, rows
renormalised, layers multiplied with the later one on the left; then the row the classifier reads."""

from __future__ import annotations

import numpy as np
import pytest

from imgbench.viz.attention import attention_rollout, patch_grid, token_relevance


def test_two_layers_by_hand():
    # layer 1: two heads that disagree; their mean is uniform, so with the identity each row is (3/4, 1/4)
    first = np.array([[[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]]])
    # layer 2: both heads send every query to token 0: mean [[1, 0], [1, 0]], + I, rows / 2 -> [[1, 0], [1/2, 1/2]]
    second = np.array([[[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]]])
    rollout = attention_rollout([first, second])
    # [[1, 0], [1/2, 1/2]] @ [[3/4, 1/4], [1/4, 3/4]]: the other order would give [[7/8, 1/8], [5/8, 3/8]]
    np.testing.assert_allclose(rollout, [[[0.75, 0.25], [0.5, 0.5]]], atol=1e-12)
    np.testing.assert_allclose(attention_rollout([first]), [[[0.75, 0.25], [0.25, 0.75]]], atol=1e-12)


def test_rows_stay_distributions_over_many_layers_and_examples():
    rng = np.random.default_rng(0)
    maps = [rng.dirichlet(np.ones(5), size=(3, 4, 5)).astype(np.float32) for _ in range(6)]  # (N, heads, T, T)
    rollout = attention_rollout(maps)
    assert rollout.shape == (3, 5, 5) and (rollout >= 0).all()
    np.testing.assert_allclose(rollout.sum(axis=-1), 1.0, atol=1e-12)
    # uniform attention everywhere: each layer is (J/T + I) / 2, the same matrix, so the rollout is its power
    uniform = [np.full((1, 2, 4, 4), 0.25)] * 3
    layer = (np.full((4, 4), 0.25) + np.eye(4)) / 2
    np.testing.assert_allclose(attention_rollout(uniform)[0], np.linalg.matrix_power(layer, 3), atol=1e-12)


def test_relevance_reads_the_class_row_or_the_mean_row_over_the_patches():
    rollout = np.array([[[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.3, 0.1, 0.6]]])
    np.testing.assert_allclose(token_relevance(rollout, 1, "class"), [[0.6, 0.4]])  # (0.3, 0.2) / 0.5
    np.testing.assert_allclose(
        token_relevance(rollout, 1, "mean"), [[1.0 / 2.1, 1.1 / 2.1]]
    )  # column means (1.0, 1.1) / 3
    np.testing.assert_allclose(token_relevance(rollout, 0, "mean"), [[0.9 / 3, 1.0 / 3, 1.1 / 3]])
    with pytest.raises(ValueError, match="'max'"):
        token_relevance(rollout, 1, "max")


def test_patch_grid_tiles_the_image_row_by_row():
    grid = patch_grid(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), (4, 6))  # 2 x 3 patches of 2 x 2 pixels
    np.testing.assert_array_equal(grid[::2, ::2], [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(grid[1::2, 1::2], grid[::2, ::2])
    with pytest.raises(ValueError, match="do not tile"):
        patch_grid(np.ones(5), (4, 6))
