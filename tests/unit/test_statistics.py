"""Statistics for comparisons: confidence intervals, McNemar's exact test, Holm, bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from imgbench.evaluation import bootstrap_accuracy_ci, holm_adjust, mcnemar_exact, mean_ci


def test_mean_ci_matches_student_t():
    x = [0.971, 0.968, 0.975, 0.970]
    r = mean_ci(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert r["n"] == 4 and r["mean"] == pytest.approx(np.mean(x))
    assert r["std"] == pytest.approx(np.std(x, ddof=1))
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi))


def test_mean_ci_edge_cases():
    one = mean_ci([0.9])
    assert one["std"] == 0 and math.isnan(one["ci_low"])
    assert mean_ci([])["n"] == 0
    clipped = mean_ci([0.99, 1.0, 0.95], bounds=(0, 1))
    assert clipped["ci_high"] == 1.0 and clipped["ci_low"] < 0.98


def test_mcnemar_exact_counts_discordant_pairs_and_matches_binomtest():
    a = np.array([1] * 50 + [1] * 12 + [0] * 3 + [0] * 35, bool)
    b = np.array([1] * 50 + [0] * 12 + [1] * 3 + [0] * 35, bool)
    r = mcnemar_exact(a, b)
    assert (r["a_only"], r["b_only"]) == (12, 3)
    assert r["p_value"] == pytest.approx(stats.binomtest(12, 15, 0.5).pvalue)
    assert r["p_value"] == pytest.approx(0.03515625)  # 2 * P(X <= 3), X ~ Bin(15, 1/2) = 2 * 576 / 32768
    assert mcnemar_exact(a, a)["p_value"] == 1.0
    assert mcnemar_exact(a, b)["p_value"] == mcnemar_exact(b, a)["p_value"]
    with pytest.raises(ValueError, match="same test examples"):
        mcnemar_exact(a, b[:10])


def test_holm_adjust():
    # m = 4: sorted 0.01, 0.02, 0.03, 0.5 -> 0.04, 0.06, 0.06 (monotone), 0.5
    assert holm_adjust([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert holm_adjust([0.9, 0.8]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]) == []


def test_bootstrap_interval_has_the_binomial_width():
    correct = np.zeros(2000, bool)
    correct[:1800] = True  # accuracy 0.9
    r = bootstrap_accuracy_ci(correct, n_boot=4000, seed=1)
    half = 1.96 * math.sqrt(0.9 * 0.1 / 2000)
    assert r["accuracy"] == 0.9
    assert r["ci_low"] == pytest.approx(0.9 - half, abs=0.003)
    assert r["ci_high"] == pytest.approx(0.9 + half, abs=0.003)
    assert bootstrap_accuracy_ci(correct, seed=1) == bootstrap_accuracy_ci(correct, seed=1)  # seeded
