"""Accuracy over seeds x test images: its variance, its interval, and the difference between two models.

A study scores every seed's run on the same test images, so correctness is a crossed design::

    correct[s, i] = mu + a_s + b_i + e_si

``a_s`` is seed-to-seed variation (initialisation, batch order, split), ``b_i`` is how hard image ``i`` is (the
test set is a sample of images), ``e_si`` is the rest (seed-by-image interaction and the 0/1 outcome).  The
target is ``mu``: the expected accuracy over seeds and over the population the test images come from.  Its
estimate, the mean over S seeds and n images, has variance ``var(a)/S + var(b)/n + var(e)/(S n)``, which the
mean squares of the two-way ANOVA without replication estimate::

    V = max(MS_seed - MS_error, 0) / (S n) + s^2(image means) / n

(Searle, Casella & McCulloch, *Variance Components*, 1992, ch. 4).  A difference of two models applies the same
model to the per-seed, per-image differences when the seeds are paired, and adds the two models' seed parts
when they are not.

The interval is a generalized pivotal (fiducial) interval (Weerahandi 1993; Hannig, Iyer & Patterson 2006):
every mean square is replaced by ``ms · df / chi2(df)`` draws, the seed part keeping its S - 1 degrees of
freedom.  With 3 seeds a seed variance several times the observed one is plausible, and the interval says so.
A plug-in t-interval with Satterthwaite's degrees of freedom is narrower but, with 3 seeds, covered as little as
93% in simulations with the model of ``tests/unit/test_statistics.py`` (3-10 seeds, 200-10,000 images; false
positives up to 7% on equal models), because it sets the seed part to 0 whenever it happens to look small; this
interval covered 96-99% there, and its test rejected equal models 1-4% of the time at alpha = 0.05.  The two-level
("pigeonhole") bootstrap over seeds and images counts ``var(e)`` about three times (Owen, *Ann. Appl. Stat.*
2007) and resamples 3-5 seeds as if they were many: it covered 94-99% where the test set dominates and 84-85%
where the seeds do.

Intervals stay inside their range by construction: the pivot is Wilson's score statistic with the effective
sample size ``p(1-p) / V`` (Kish's design effect, as Korn & Graubard 1998 use it for survey proportions), and a
difference ``d`` is first mapped to ``(1 + d) / 2``.  For one run the interval is Wilson's.  When a model has a
single seed the seed part of the variance is missing, and the result says so (``seed_part``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

Runs = Mapping[int, npt.ArrayLike] | Sequence[npt.ArrayLike]
"""One model's runs: each seed's correctness on the same test images (``correct[seed][image]``).
A sequence's positions are its seed numbers; a mapping names them."""

Matrix = npt.NDArray[np.float64]


class SeedPart(NamedTuple):
    """One set of runs' seed component of the variance: ``scale · (MS_seed - MS_error)``, each mean square with
    its degrees of freedom; ``scale`` is 1 / (S n)."""

    ms_seed: float
    df_seed: int
    ms_error: float
    df_error: int
    scale: float


class Variance(NamedTuple):
    """An estimate (mean accuracy, or difference of two) and what its variance is estimated from."""

    estimate: float
    seed_parts: tuple[SeedPart, ...]
    image_ms: float  # sample variance of the per-image means (or their differences), n - 1 df
    n_images: int
    seed_part: bool  # False: some model has one seed, so seed-to-seed variance is missing

    @property
    def variance(self) -> float:
        """The estimate's variance, ``V`` of the module docstring (each seed component at least 0)."""
        seeds = sum(p.scale * max(p.ms_seed - p.ms_error, 0.0) for p in self.seed_parts)
        return seeds + self.image_ms / self.n_images

    def draws(self, rng: np.random.Generator, size: int) -> Matrix:
        """Generalized pivotal quantities of the variance: each mean square ``ms`` with ``df`` degrees of freedom
        becomes ``ms · df / chi2(df)`` (Weerahandi 1993; Hannig, Iyer & Patterson 2006)."""
        n = self.n_images
        out = self.image_ms * (n - 1) / rng.chisquare(n - 1, size) / n
        for p in self.seed_parts:
            seed = p.ms_seed * p.df_seed / rng.chisquare(p.df_seed, size)
            error = p.ms_error * p.df_error / rng.chisquare(p.df_error, size)
            out += p.scale * np.maximum(seed - error, 0.0)
        return np.asarray(out, dtype=np.float64)


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
    matrix = np.asarray(rows, dtype=np.float64)
    if not np.isin(matrix, (0.0, 1.0)).all():
        raise ValueError(f"{name}: expected correctness (True/False or 1/0 per image), got other values")
    return matrix, [int(s) for s, _ in items]


def pair_runs(correct_a: Runs, correct_b: Runs) -> PairedRuns:
    """Both models' runs, paired by seed number when both have exactly the same seeds (same split and batch order)."""
    a, seeds_a = as_runs(correct_a, "model A")
    b, seeds_b = as_runs(correct_b, "model B")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the models were scored on different test sets: {a.shape[1]} vs {b.shape[1]} images")
    return PairedRuns(a, b, seeds_a, seeds_b, paired=seeds_a == seeds_b)


def _seed_parts(y: Matrix) -> tuple[SeedPart, ...]:
    """The two-way ANOVA mean squares of one set of runs for its seed component (none with one seed: the
    seed-by-image interaction then stays in the image part, and seed-to-seed variance is missing)."""
    s, n = y.shape
    if s < 2:
        return ()
    ms_seed = n * float(np.var(y.mean(axis=1), ddof=1))
    residual = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0) + y.mean()
    df_error = (s - 1) * (n - 1)
    return (SeedPart(ms_seed, s - 1, float(np.sum(residual**2)) / df_error, df_error, 1 / (s * n)),)


def _variance(estimate: float, seed_rows: list[Matrix], image_means: Matrix) -> Variance:
    parts = tuple(p for y in seed_rows for p in _seed_parts(y))
    n = len(image_means)
    return Variance(estimate, parts, float(np.var(image_means, ddof=1)), n, all(len(y) > 1 for y in seed_rows))


def _accuracy_variance(y: Matrix) -> Variance:
    """Mean accuracy over seeds and test images, the variance of that mean, its df (the module docstring's model)."""
    return _variance(float(y.mean()), [y], y.mean(axis=0))


def difference_variance(runs: PairedRuns) -> Variance:
    """Difference of mean accuracies (A - B), its variance and df.

    Paired seeds: the model applies to the per-seed, per-image differences ``a - b`` (shared seed effects cancel).
    Unpaired: each model's seed part plus the image part of the per-image difference of means.
    The seed part is present only when both models have at least two seeds."""
    a, b = runs.a, runs.b
    seed_rows = [a - b] if runs.paired else [a, b]
    return _variance(float(a.mean() - b.mean()), seed_rows, a.mean(axis=0) - b.mean(axis=0))


N_DRAWS = 10_000
"""Draws of the variance's pivotal quantity per interval.  The normal part is integrated exactly, so the draws
only average over the uncertainty of the mean squares; with 10,000 of them the endpoints move by 0.1-0.7% of the
interval's width from one seed of the draws to another (most with 3 seeds, whose chi-square has a long tail)."""


def _pivot_cdf(center: float, n_eff: Matrix) -> Callable[[float], float]:
    """P(proportion <= x) for the score pivot ``(center - p) / sqrt(p (1 - p) / n_eff) ~ N(0, 1)``, averaged over
    draws of the effective sample size ``n_eff``."""
    from scipy.special import ndtr

    def cdf(x: float) -> float:
        return float(np.mean(ndtr((x - center) * np.sqrt(n_eff / (x * (1 - x))))))

    return cdf


def _pivot_interval(center: float, n_eff: Matrix, confidence: float) -> tuple[float, float]:
    """Equal-tailed interval of the score pivot, inside [0, 1] by construction.  With a single, known ``n_eff``
    its endpoints solve ``(center - p)^2 = z^2 p (1 - p) / n_eff``: Wilson's score interval."""
    from scipy.optimize import brentq

    cdf, tail, eps = _pivot_cdf(center, n_eff), (1 - confidence) / 2, 1e-12
    mid = min(max(center, eps), 1 - eps)  # the pivot's median; 0 and 1 themselves are outside its domain
    low = 0.0 if cdf(eps) >= tail else brentq(lambda x: cdf(x) - tail, eps, mid, xtol=1e-12)
    high = 1.0 if cdf(1 - eps) <= 1 - tail else brentq(lambda x: cdf(x) - (1 - tail), mid, 1 - eps, xtol=1e-12)
    return float(low), float(high)


def _effective_df(variance: float, draws: Matrix | None, confidence: float) -> float | None:
    """The t degrees of freedom with the same critical value as the pivot ``Z · sqrt(draw / variance)``: how much
    the interval widens for not knowing the variance (None: not at all, e.g. one run, whose variance is binomial)."""
    from scipy.optimize import brentq
    from scipy.special import ndtr, ndtri, stdtrit

    if draws is None or variance == 0:
        return None
    level = 0.5 + confidence / 2
    ratio = np.sqrt(variance / draws)
    q = brentq(lambda q: float(np.mean(ndtr(q * ratio))) - level, 0.0, 1e6, xtol=1e-10)
    lowest, highest = 0.1, 1e9
    if q <= stdtrit(highest, level):
        return None if q <= ndtri(level) * (1 + 1e-9) else highest
    if q >= stdtrit(lowest, level):
        return lowest
    return float(
        math.exp(brentq(lambda log_df: stdtrit(math.exp(log_df), level) - q, math.log(lowest), math.log(highest)))
    )


def _size(seeds: str, n_images: int) -> str:
    return f"{seeds} x {n_images} test images"


def accuracy_interval(correct: Runs, confidence: float = 0.95, n_draws: int = N_DRAWS, seed: int = 0) -> dict[str, Any]:
    """Interval of one model's expected accuracy from all its seeds and test images.

    One run: Wilson's score interval on its n test images.  Several: the generalized pivotal interval of the
    seeds x images variance (module docstring) in Wilson's score form, the effective sample size capped at the
    S n scored images.  Returns ``estimate, low, high, confidence, method, n_seeds, n_images, n`` (printable),
    ``std_error``, ``df`` (the t degrees of freedom equivalent to the interval's width; None: normal) and
    ``seed_part`` (False: one seed, so seed-to-seed variance is not in it)."""
    y, _ = as_runs(correct)
    s, n = y.shape
    v = _accuracy_variance(y)
    p = v.estimate
    draws = None
    if s == 1:
        variance, method = p * (1 - p) / n, "Wilson score, one run (test-image sampling only)"
        n_eff = np.array([float(n)])
    elif v.variance == 0:  # every run right (or wrong) on every image: Wilson's interval on all S n of them
        variance, method = 0.0, "Wilson score over all seeds x test images (no variation to pivot on)"
        n_eff = np.array([float(s * n)])
    else:
        variance, method = v.variance, "generalized pivot over seeds x test images, Wilson score form"
        draws = v.draws(np.random.default_rng(seed), n_draws)
        n_eff = np.minimum(p * (1 - p) / draws, s * n)
    low, high = _pivot_interval(p, n_eff, confidence)
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
        "df": _effective_df(variance, draws, confidence),
        "seed_part": s > 1,
    }


def size_label(runs: PairedRuns) -> str:
    """How many runs and images a comparison rests on, printable: '5 paired seeds x 1000 test images'."""
    sa, sb = len(runs.seeds_a), len(runs.seeds_b)
    seeds = f"{sa} paired seed{'s' * (sa != 1)}" if runs.paired else f"{sa} + {sb} seeds"
    return _size(seeds, runs.a.shape[1])


def _difference_pivot(runs: PairedRuns, n_draws: int, seed: int) -> tuple[Variance, Matrix | None, Matrix | None]:
    """The difference's variance, its pivot draws and the effective sample sizes of ``(1 + d) / 2`` they give
    (None, None: the variance is 0, which happens only when every per-image, per-seed difference is the same)."""
    v = difference_variance(runs)
    if v.variance == 0:
        return v, None, None
    m = (1 + v.estimate) / 2
    draws = v.draws(np.random.default_rng(seed), n_draws)
    return v, draws, m * (1 - m) / (draws / 4)


def difference_interval(
    runs: PairedRuns, confidence: float = 0.95, n_draws: int = N_DRAWS, seed: int = 0
) -> dict[str, Any]:
    """Interval of the difference of expected accuracies, A - B, from every seed and test image of both.

    The generalized pivotal interval of ``(1 + d) / 2`` in score form, mapped back to ``d``: inside [-1, 1] by
    construction.  Keys as :func:`accuracy_interval`, with ``n_seeds_a, n_seeds_b, paired`` for ``n_seeds``;
    ``seed_part`` is False when either model has a single seed."""
    v, draws, n_eff = _difference_pivot(runs, n_draws, seed)
    d = v.estimate
    low, high = (d, d) if n_eff is None else (2 * x - 1 for x in _pivot_interval((1 + d) / 2, n_eff, confidence))
    return {
        "estimate": d,
        "low": low,
        "high": high,
        "confidence": confidence,
        "method": "generalized pivot over seeds x test images, score form",
        "n_seeds_a": len(runs.seeds_a),
        "n_seeds_b": len(runs.seeds_b),
        "paired": runs.paired,
        "n_images": int(runs.a.shape[1]),
        "n": size_label(runs),
        "std_error": math.sqrt(v.variance),
        "df": _effective_df(v.variance, draws, confidence),
        "seed_part": v.seed_part,
    }


def difference_test(runs: PairedRuns, n_draws: int = N_DRAWS, seed: int = 0) -> dict[str, Any]:
    """Two-sided test of equal expected accuracies, the dual of :func:`difference_interval` (same draws):
    ``p_value < 1 - confidence`` exactly when that interval excludes 0.  The generalized p-value is
    ``2 min(P(D <= 0), P(D >= 0))`` for the pivot D.  Its error rate holds over seeds and test sets, not only
    on this test set, because the pivot carries both parts of the variance.
    Returns ``method``, ``statistic`` (``d / SE``, for reading; None when SE is 0) and ``p_value``."""
    v, _, n_eff = _difference_pivot(runs, n_draws, seed)
    d, se = v.estimate, math.sqrt(v.variance)
    if n_eff is None:  # every difference the same: none at all (p = 1) or one model always right (p = 0)
        statistic, p = None, 1.0 if d == 0 else 0.0
    else:
        below = _pivot_cdf((1 + d) / 2, n_eff)(0.5)
        statistic, p = d / se, float(min(1.0, 2 * min(below, 1 - below)))
    return {"method": "generalized pivot test over seeds x test images", "statistic": statistic, "p_value": p}
