"""Statistics for comparing runs: spread across seeds, McNemar, Holm, the test-image bootstrap.

scikit-learn depends on SciPy, so ``scipy.stats`` is always available here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt


def mean_ci(
    values: Iterable[float], confidence: float = 0.95, bounds: tuple[float, float] | None = None
) -> dict[str, Any]:
    """Mean, sample standard deviation and the Student-t confidence interval of the mean.

    With ``n`` values, the interval is ``mean ± t_{(1+c)/2, n-1} · s / sqrt(n)``.
    One value has no spread: std is 0 and the interval is undefined (NaN).
    ``bounds`` clips the interval to the range the quantity can take.
    """
    from scipy import stats

    x = np.asarray(list(values), dtype=np.float64)
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": math.nan, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "std": 0.0, "ci_low": math.nan, "ci_high": math.nan}
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    lo, hi = mean - half, mean + half
    if bounds is not None:  # e.g. an accuracy's interval cannot leave [0, 1]
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return {"n": n, "mean": mean, "std": std, "ci_low": lo, "ci_high": hi}


def mcnemar_exact(correct_a: npt.ArrayLike, correct_b: npt.ArrayLike) -> dict[str, Any]:
    """McNemar's exact test of two classifiers on the same test examples.

    Only the discordant pairs matter: ``b`` = examples A gets right and B gets
    wrong, ``c`` = the reverse.  Under the null hypothesis (equal error rates)
    ``b ~ Binomial(b + c, 1/2)``; the two-sided p-value is
    ``min(1, 2 · P(X <= min(b, c)))``.
    """
    from scipy import stats

    a = np.asarray(correct_a, dtype=bool)
    b_ = np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape:
        raise ValueError(f"McNemar needs the same test examples: {a.shape} vs {b_.shape} predictions")
    b = int(np.sum(a & ~b_))
    c = int(np.sum(~a & b_))
    p = 1.0 if b + c == 0 else float(min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5)))
    return {"a_only": b, "b_only": c, "p_value": p}


def resampled_means(values: npt.NDArray[np.float64], n_boot: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Each row's mean over ``n_boot`` bootstrap resamples of the columns (test images), shape (n_boot, rows).

    Every row sees the same resample, as runs scored on one test set must.  Vectorised: each resample's
    draw counts per image (a bincount) times the values, one matrix product per chunk of resamples."""
    k, n = values.shape
    out = np.empty((n_boot, k))
    chunk = max(1, 2_000_000 // n)  # resample in chunks: n_boot x n indices at once would be large
    for i in range(0, n_boot, chunk):
        m = min(chunk, n_boot - i)
        idx = rng.integers(0, n, size=(m, n)) + n * np.arange(m)[:, None]
        counts = np.bincount(idx.ravel(), minlength=m * n).reshape(m, n)
        out[i : i + m] = counts @ values.T / n
    return out


def bootstrap_accuracy_ci(
    correct: npt.ArrayLike, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """Percentile bootstrap interval of the accuracy of one run (resampling test examples)."""
    hits = np.asarray(correct, dtype=np.float64)
    n = len(hits)
    if n == 0:
        return {"accuracy": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n_boot": n_boot}
    accs = resampled_means(hits[None, :], n_boot, np.random.default_rng(seed))[:, 0]
    lo, hi = np.quantile(accs, [(1 - confidence) / 2, (1 + confidence) / 2])
    return {"accuracy": float(hits.mean()), "ci_low": float(lo), "ci_high": float(hi), "n_boot": n_boot}


def holm_adjust(p_values: Iterable[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error control over many pairwise tests).

    Sorted ascending, the i-th smallest (0-based) of m p-values becomes
    ``max_{j<=i} min(1, (m - j) · p_(j))``.
    """
    p = np.asarray(list(p_values), dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return [float(v) for v in out]
