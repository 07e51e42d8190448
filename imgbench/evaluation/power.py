"""How small a difference a study can see: detectable differences at a given power, and too few seeds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MIN_SEEDS = 3
"""Below this, seed-to-seed variance is estimated from 1 degree of freedom or not at all."""


def detectable_difference(std_error: float, df: float | None, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true difference in accuracy that the two-sided test at ``alpha`` finds with probability ``power``.

    Approximation: the comparison's test (:func:`~imgbench.evaluation.intervals.difference_test`) is taken as a
    t-test of ``d / SE`` with ``df`` degrees of freedom, those of its interval (the interval dict's ``df``: the t
    that is as wide as its pivot), and SE, the seeds x test images standard error, as unchanged under the
    alternative.  Under a true difference ``delta`` the statistic is then noncentral t with noncentrality
    ``delta / SE`` (normal when ``df`` is None), and the answer solves ``P(|T| > t_{1-alpha/2}) = power``.
    For ``df + 1`` observations this is statsmodels' ``TTestPower().solve_power`` times ``sqrt(df + 1) · SE``."""
    from scipy.optimize import brentq
    from scipy.special import nctdtr, ndtr, ndtri, stdtrit

    if std_error == 0:
        return 0.0
    crit = float(ndtri(1 - alpha / 2) if df is None else stdtrit(df, 1 - alpha / 2))

    def shortfall(ncp: float) -> float:
        if df is None:
            return float(ndtr(ncp - crit) + ndtr(-crit - ncp)) - power
        wrong_side = float(nctdtr(df, ncp, -crit))  # rejecting with the wrong sign: tiny, and NaN far out
        return 1 - float(nctdtr(df, ncp, crit)) + (0.0 if math.isnan(wrong_side) else wrong_side) - power

    hi = 2 * crit + 4.0  # power(hi) > power for any df: enlarged below if not
    while shortfall(hi) < 0:
        hi *= 2
    return float(brentq(shortfall, 0.0, hi, xtol=1e-10)) * std_error


def power_summary(comparisons: Sequence[Mapping[str, Any]], power: float = 0.8) -> dict[str, Any]:
    """The detectable differences of one dataset's pairwise comparisons (from ``compare_groups``), summarised.

    Returns ``median, min, max`` (accuracy units), ``pairs``, ``power``, ``alpha``, ``method`` and
    ``seed_part`` (False when some comparison lacked seed-to-seed variance: its detectable difference is then
    too optimistic).  With no comparisons, the numbers are None."""
    values = [float(c["detectable_difference"]) for c in comparisons]
    alpha = float(comparisons[0].get("alpha", 0.05)) if comparisons else 0.05
    numbers: dict[str, float | None] = {
        "median": float(np.median(values)) if values else None,
        "min": min(values) if values else None,
        "max": max(values) if values else None,
    }
    return {
        **numbers,
        "pairs": len(values),
        "power": power,
        "alpha": alpha,
        "method": (
            "noncentral t on each pair's seed and test-image standard error, with the degrees of freedom of "
            "the t-interval as wide as the pair's pivot interval"
        ),
        "seed_part": all(c["difference"]["seed_part"] for c in comparisons),
    }


def seed_warnings(seed_counts: Mapping[str, int], minimum: int = MIN_SEEDS) -> list[str]:
    """One sentence per model with fewer than ``minimum`` seeds (its seed-to-seed spread is unknown or unreliable)."""
    out = []
    for label, n in seed_counts.items():
        if n < minimum:
            what = "no seed-to-seed variance in its intervals" if n < 2 else "seed variance from one degree of freedom"
            out.append(f"{label} has {n} seed{'s' * (n != 1)} ({what}); use at least {minimum}")
    return out
