"""Model-level comparisons that use every seed: difference with its interval, P(improvement), the test, Holm.

Inputs are plain arrays: for each model, each seed's correctness on the same test images (see
:data:`~imgbench.evaluation.intervals.Runs`).  Seeds are paired by number when both models have the same seeds
(same split and batch order); otherwise the comparison is unpaired.  Every result is a plain JSON-ready dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

from .intervals import PairedRuns, Runs, difference_interval, difference_test, pair_runs, size_label
from .power import detectable_difference
from .statistics import holm_adjust, mcnemar_exact, resampled_means


def _improvement(acc_a: npt.NDArray[np.float64], acc_b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """P(a run of A scores higher than a run of B) over the last axis of each: the Mann-Whitney U / (S_A S_B),
    ties counted half (Agarwal et al., *Deep RL at the edge of the statistical precipice*, 2021)."""
    diff = acc_a[..., :, None] - acc_b[..., None, :]
    wins = (diff > 0).astype(np.float64) + 0.5 * (diff == 0)
    return np.asarray(wins.mean(axis=(-2, -1)), dtype=np.float64)


def probability_of_improvement(
    runs: PairedRuns, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0, resample_images: bool = True
) -> dict[str, Any]:
    """P(A > B): the probability that a run of A, seed at random, has a higher test accuracy than a run of B.

    The estimate is rliable's ``probability_of_improvement`` on the per-seed accuracies.  Its interval is a
    percentile bootstrap at two levels: the test images (one resample shared by both models) and the seeds
    (resampled together when paired, independently otherwise); ``resample_images=False`` resamples seeds only,
    which is rliable's interval.  Returns ``estimate, low, high, confidence, method, n_boot, n, seed_part``.
    """
    a, b = runs.a, runs.b
    sa, sb = len(a), len(b)
    rng = np.random.default_rng(seed)
    if resample_images:  # the same test-image resample for both models: they were scored on one test set
        acc = resampled_means(np.vstack([a, b]), n_boot, rng)
    else:
        acc = np.broadcast_to(np.concatenate([a.mean(axis=1), b.mean(axis=1)]), (n_boot, sa + sb))
    idx_a = rng.integers(0, sa, size=(n_boot, sa))
    idx_b = idx_a if runs.paired else rng.integers(0, sb, size=(n_boot, sb))  # paired seeds stay together
    boot = _improvement(np.take_along_axis(acc[:, :sa], idx_a, 1), np.take_along_axis(acc[:, sa:], idx_b, 1))
    low, high = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    levels = "seeds and test images" if resample_images else "seeds"
    return {
        "estimate": float(_improvement(a.mean(axis=1), b.mean(axis=1))),
        "low": float(low),
        "high": float(high),
        "confidence": confidence,
        "method": f"percentile bootstrap over {levels}, {n_boot} resamples",
        "n_boot": n_boot,
        "n": size_label(runs),
        "seed_part": min(sa, sb) > 1,
    }


def _mcnemar_per_seed(runs: PairedRuns) -> list[dict[str, Any]]:
    """McNemar's exact test of each seed's two runs (unpaired seeds: the i-th run of each, in seed order)."""
    return [
        {"seed_a": sa, "seed_b": sb, **mcnemar_exact(ra > 0, rb > 0)}
        for sa, sb, ra, rb in zip(runs.seeds_a, runs.seeds_b, runs.a, runs.b, strict=False)
    ]


def compare_pair(
    correct_a: Runs,
    correct_b: Runs,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    power: float = 0.8,
) -> dict[str, Any]:
    """Everything the report says about model A against model B on one test set.

    Returns ``paired, seeds_a, seeds_b, n_images``; ``difference`` (A - B in accuracy, with its interval: see
    :func:`~imgbench.evaluation.intervals.difference_interval`); ``test`` (the decision rule,
    :func:`~imgbench.evaluation.intervals.difference_test`); ``prob_improvement``
    (:func:`probability_of_improvement`); ``mcnemar`` (a list, one exact test per seed); and
    ``detectable_difference``, the true difference this comparison finds with probability ``power`` at
    alpha = 1 - confidence (:func:`~imgbench.evaluation.power.detectable_difference`).
    """
    runs = pair_runs(correct_a, correct_b)
    diff = difference_interval(runs, confidence, seed=seed)
    return {
        "paired": runs.paired,
        "seeds_a": runs.seeds_a,
        "seeds_b": runs.seeds_b,
        "n_images": diff["n_images"],
        "difference": diff,
        "test": difference_test(runs, seed=seed),
        "prob_improvement": probability_of_improvement(runs, confidence, n_boot, seed),
        "mcnemar": _mcnemar_per_seed(runs),
        "detectable_difference": detectable_difference(diff["std_error"], diff["df"], 1 - confidence, power),
    }


def compare_groups(
    groups: Mapping[str, Runs], alpha: float = 0.05, n_boot: int = 2000, seed: int = 0, power: float = 0.8
) -> list[dict[str, Any]]:
    """:func:`compare_pair` for every pair of models on one test set, with Holm's adjustment across the pairs.

    ``groups`` maps a label (e.g. ``"cnn-tiny/keras"``) to that model's runs; pairs come in the mapping's order.
    Each result has ``a`` and ``b`` (labels), ``alpha``, and in ``test`` also ``p_holm`` and ``significant``
    (``p_holm < alpha``: the family-wise error rate over the pairs stays at most alpha).  Intervals are at
    ``1 - alpha`` without adjustment.  Raises ValueError when two groups were scored on different test sets."""
    out = [
        {"a": la, "b": lb, "alpha": alpha, **compare_pair(ra, rb, 1 - alpha, n_boot, seed, power)}
        for (la, ra), (lb, rb) in combinations(groups.items(), 2)
    ]
    for c, p_holm in zip(out, holm_adjust([c["test"]["p_value"] for c in out]), strict=True):
        c["test"].update(p_holm=p_holm, significant=p_holm < alpha)
    return out


def _points(x: float) -> str:
    return f"{100 * x:.1f}"


def describe_comparison(c: Mapping[str, Any]) -> str:
    """One comparison from :func:`compare_groups` in words, the model ahead first, e.g.
    "cnn-tiny/keras beats mlp/torch by 1.8 points [0.4, 3.1], P(improvement) 0.93, significant after Holm"."""
    d, pi, test = c["difference"], c["prob_improvement"], c["test"]
    ahead, behind, sign = (c["a"], c["b"], 1) if d["estimate"] >= 0 else (c["b"], c["a"], -1)
    low, high = sorted((sign * d["low"], sign * d["high"]))
    p_improve = pi["estimate"] if sign > 0 else 1 - pi["estimate"]  # P(B > A) = 1 - P(A > B), ties counting half
    significant = test.get("significant", test["p_value"] < c.get("alpha", 0.05))
    holm = "after Holm" if "p_holm" in test else "(no multiple-comparison adjustment)"
    verdict = f"significant {holm}" if significant else f"not significant {holm}"
    if d["estimate"] == 0:
        opening = f"{ahead} and {behind} tie: 0.0 points"
    else:
        verb = "beats" if significant else "is ahead of"
        opening = f"{ahead} {verb} {behind} by {_points(abs(d['estimate']))} points"
    text = f"{opening} [{_points(low)}, {_points(high)}], P(improvement) {p_improve:.2f}, {verdict}"
    if not d["seed_part"]:
        text += " (a single seed: seed-to-seed variation is not in the interval)"
    return text
