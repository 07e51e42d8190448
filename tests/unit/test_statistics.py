"""Statistics for comparisons: confidence intervals, McNemar's exact test, Holm, bootstrap; model-level comparisons
over seeds x test images checked by simulation and against scipy, statsmodels and rliable."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from imgbench.evaluation import (
    accuracy_interval,
    bootstrap_accuracy_ci,
    compare_groups,
    compare_pair,
    describe_comparison,
    detectable_difference,
    difference_interval,
    difference_test,
    holm_adjust,
    mcnemar_exact,
    mean_ci,
    pair_runs,
    power_summary,
    probability_of_improvement,
    seed_warnings,
)
from imgbench.evaluation.intervals import difference_variance


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


# ---------------------------------------------------------------------------------------------------------------
# Model-level comparisons over seeds x test images (imgbench.evaluation.intervals / comparison / power)
# ---------------------------------------------------------------------------------------------------------------


def simulate_studies(rng, n_studies, acc_a, acc_b, n_seeds, n_images, seed_sd, image_sd=1.0, model_image_sd=0.5):
    """Correctness of two models in ``n_studies`` independent studies, each (n_studies, n_seeds, n_images) bool.

    A probit model with known expected accuracies: image i of a study's test set has difficulty d_i, drawn once
    per study and shared by both models and every seed (so their predictions on an image are correlated); each
    model also finds some images harder than the other does (w); each seed shifts a model's skill (u, half of it
    shared by the two models' runs of the same seed: same split and batch order).  Run s of model m gets image i
    right when ``z_m + u_ms - d_i + w_mi + noise > 0`` with standard normal noise, so its expected accuracy over
    seeds, images and noise is ``Phi(z_m / sqrt(1 + seed_sd² + image_sd² + model_image_sd²))``.  z_m is chosen to
    make that ``acc_a`` and ``acc_b``: the true difference is ``acc_a - acc_b`` on the population of images,
    which is what a study's interval has to cover (each study draws a fresh test set).
    """
    total = math.sqrt(1 + seed_sd**2 + image_sd**2 + model_image_sd**2)
    difficulty = rng.normal(0, image_sd, (n_studies, 1, n_images))
    shared_seed = rng.normal(size=(n_studies, n_seeds, 1))
    out = []
    for acc in (acc_a, acc_b):
        hard_for_this_model = rng.normal(0, model_image_sd, (n_studies, 1, n_images))
        seed = seed_sd * math.sqrt(0.5) * (shared_seed + rng.normal(size=(n_studies, n_seeds, 1)))
        skill = stats.norm.ppf(acc) * total + seed
        out.append(skill - difficulty + hard_for_this_model + rng.standard_normal((n_studies, n_seeds, n_images)) > 0)
    return out


SCENARIOS = {
    # name: (accuracy A, accuracy B, seeds, test images, seed sd on the probit scale, paired)
    "equal models": (0.90, 0.90, 5, 1000, 0.05, True),
    "2-point difference": (0.92, 0.90, 5, 1000, 0.05, True),
    "large seed spread, small test set": (0.85, 0.85, 3, 200, 0.15, True),
    "large seed spread, unpaired seeds": (0.87, 0.85, 3, 200, 0.15, False),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_intervals_cover_the_true_difference_and_the_test_keeps_its_error_rate(scenario):
    # 400 simulated studies per scenario.  Each interval uses 1000 pivot draws instead of the default 10,000: the
    # draws only average over the uncertainty of the mean squares (the normal part is integrated exactly), so
    # fewer of them jitter each endpoint both ways around the exact one, by 0.4-2.3% of the interval's width.
    # Noise with mean zero on the endpoints does not shift coverage to first order (its second-order effect is at
    # most about 0.15% here), far below the 1.1% Monte-Carlo error of 400 studies: it does not bias coverage.
    acc_a, acc_b, n_seeds, n_images, seed_sd, paired = SCENARIOS[scenario]
    n_studies = 400
    a, b = simulate_studies(np.random.default_rng(2024), n_studies, acc_a, acc_b, n_seeds, n_images, seed_sd)
    true = acc_a - acc_b
    covered = rejected = accuracy_covered = 0
    for k in range(n_studies):
        runs_b = list(b[k]) if paired else {100 + s: r for s, r in enumerate(b[k])}
        runs = pair_runs(list(a[k]), runs_b)
        assert runs.paired == paired
        interval = difference_interval(runs, n_draws=1000, seed=k)
        test = difference_test(runs, n_draws=1000, seed=k)
        inside = interval["low"] <= true <= interval["high"]
        covered += inside
        rejected += test["p_value"] < 0.05
        # the test is the interval's dual: it rejects exactly when the interval leaves out 0
        assert (test["p_value"] < 0.05) == (not interval["low"] <= 0 <= interval["high"])
        acc = accuracy_interval(list(a[k]), n_draws=1000, seed=k)
        accuracy_covered += acc["low"] <= acc_a <= acc["high"]
    assert covered / n_studies >= 0.93
    assert accuracy_covered / n_studies >= 0.93
    if true == 0:
        assert rejected / n_studies <= 0.06
    elif scenario == "2-point difference":
        assert rejected / n_studies >= 0.5  # and it still finds a real 2-point difference most of the time


def _studies(scenario, n_studies=1, seed=7):
    acc_a, acc_b, n_seeds, n_images, seed_sd, _ = SCENARIOS[scenario]
    a, b = simulate_studies(np.random.default_rng(seed), n_studies, acc_a, acc_b, n_seeds, n_images, seed_sd)
    return list(a[0]), list(b[0])


def test_a_single_run_gets_wilsons_interval_as_statsmodels_computes_it():
    proportion_confint = pytest.importorskip("statsmodels.stats.proportion").proportion_confint

    for hits, n in [(270, 300), (300, 300), (0, 300), (1, 50), (49, 50)]:
        correct = np.zeros(n, bool)
        correct[:hits] = True
        r = accuracy_interval([correct])
        assert (r["low"], r["high"]) == pytest.approx(proportion_confint(hits, n, method="wilson"), abs=1e-9)
        assert r["n_seeds"] == 1 and r["n_images"] == n and r["seed_part"] is False and r["df"] is None
        assert r["method"].startswith("Wilson") and r["n"] == f"1 seed x {n} test images"


@pytest.mark.filterwarnings("ignore:The MLE may be on the boundary")  # statsmodels, on the 0/1 data
def test_mean_squares_match_statsmodels_anova_and_components_match_its_mixed_model():
    pd = pytest.importorskip("pandas")
    smf = pytest.importorskip("statsmodels.formula.api")
    anova_lm = pytest.importorskip("statsmodels.stats.anova").anova_lm

    a, b = _studies("large seed spread, small test set")
    a, b = [r[:60] for r in a], [r[:60] for r in b]
    s, n = len(a), 60
    y = np.asarray(a, float)
    frame = pd.DataFrame({"y": y.ravel(), "seed": np.repeat(np.arange(s), n), "image": np.tile(np.arange(n), s)})
    table = anova_lm(smf.ols("y ~ C(seed) + C(image)", frame).fit())
    ms_seed, ms_image, ms_error = table["mean_sq"]
    v = difference_variance(pair_runs(a, [np.zeros(n, bool)] * s))  # B always wrong: the difference is A itself
    (part,) = v.seed_parts
    assert (part.ms_seed, part.ms_error) == pytest.approx((ms_seed, ms_error), rel=1e-9)
    assert (part.df_seed, part.df_error) == (s - 1, (s - 1) * (n - 1))
    assert v.image_ms == pytest.approx(ms_image / s, rel=1e-9)
    assert v.variance == pytest.approx((max(ms_seed - ms_error, 0) + ms_image) / (s * n), rel=1e-9)
    # REML on a balanced crossed design gives the ANOVA estimates of the components when they are positive
    frame["all"] = 1
    fit = smf.mixedlm("y ~ 1", frame, groups="all", vc_formula={"seed": "0 + C(seed)", "image": "0 + C(image)"})
    result = fit.fit(reml=True)
    components = dict(zip(result.model.exog_vc.names, result.vcomp, strict=True))
    assert components["image"] == pytest.approx((ms_image - ms_error) / s, rel=1e-3)
    assert result.scale == pytest.approx(ms_error, rel=1e-3)
    assert ms_seed > ms_error  # this study's seeds do differ, so the seed component is checked, not skipped
    assert components["seed"] == pytest.approx((ms_seed - ms_error) / n, rel=1e-2)


def test_the_generalized_test_is_students_t_when_the_variance_has_one_part():
    # One paired seed: the variance is the image part alone, s^2/n with n - 1 degrees of freedom, so the pivot is
    # Student's t; the score form multiplies the statistic by sqrt(1 - d^2).  Checked against scipy's t-test.
    rng = np.random.default_rng(5)
    for n in (12, 40, 300):
        a = rng.random(n) < 0.8
        b = rng.random(n) < 0.7
        t = stats.ttest_1samp(a.astype(float) - b, 0.0)
        d = float(np.mean(a.astype(float) - b))
        expected = 2 * stats.t.sf(abs(t.statistic) * math.sqrt(1 - d * d), n - 1)
        r = difference_test(pair_runs([a], [b]), n_draws=200_000)
        assert r["p_value"] == pytest.approx(expected, abs=0.004)
        assert r["statistic"] == pytest.approx(t.statistic, rel=1e-9)
        interval = difference_interval(pair_runs([a], [b]), n_draws=200_000)
        assert interval["df"] == pytest.approx(n - 1, rel=0.15)
        assert interval["seed_part"] is False


@pytest.mark.filterwarnings("ignore:random_state is deprecated:FutureWarning")  # arch, underneath rliable
def test_probability_of_improvement_matches_rliable_and_mann_whitney():
    rliable_metrics = pytest.importorskip("rliable.metrics")
    rliable_library = pytest.importorskip("rliable.library")
    a, b = simulate_studies(np.random.default_rng(7), 1, 0.87, 0.85, 5, 200, 0.15)
    a, runs_b = list(a[0]), {10 + s: r for s, r in enumerate(b[0])}  # seeds 10..14: unpaired, as rliable assumes
    acc_a, acc_b = np.mean(a, axis=1), np.mean(b[0], axis=1)
    r = probability_of_improvement(pair_runs(a, runs_b), n_boot=20_000, resample_images=False, seed=3)
    assert r["estimate"] == pytest.approx(rliable_metrics.probability_of_improvement(acc_a[:, None], acc_b[:, None]))
    u = stats.mannwhitneyu(acc_a, acc_b, alternative="greater").statistic
    assert r["estimate"] == pytest.approx(u / (len(acc_a) * len(acc_b)))
    _, intervals = rliable_library.get_interval_estimates(  # rliable is slow: 1000 resamples take seconds
        {"pair": [acc_a[:, None], acc_b[:, None]]},
        lambda x, y: np.array([rliable_metrics.probability_of_improvement(x, y)]),
        reps=1000,
        random_state=np.random.RandomState(0),
    )
    (low,), (high,) = intervals["pair"]
    # P(A > B) of 5 x 5 runs moves in steps of 1/25: Monte-Carlo error of 1000 resamples is about one step
    assert (r["low"], r["high"]) == pytest.approx((low, high), abs=0.05)
    # with the test images resampled too, the interval widens (seed-only resampling is one level of it)
    both = probability_of_improvement(pair_runs(a, runs_b), n_boot=20_000, seed=3)
    assert both["low"] <= r["low"] + 0.02 and both["high"] >= r["high"] - 0.02
    assert 0.0 <= both["low"] <= both["estimate"] <= both["high"] <= 1.0
    assert "seeds and test images" in both["method"] and "seeds," in r["method"]


def test_image_bootstrap_matches_scipy_bootstrap():
    rng = np.random.default_rng(11)
    correct = rng.random(500) < 0.83
    ours = bootstrap_accuracy_ci(correct, n_boot=20_000, seed=2)
    theirs = stats.bootstrap((correct.astype(float),), np.mean, n_resamples=20_000, method="percentile", rng=4)
    ci = theirs.confidence_interval
    assert (ours["ci_low"], ours["ci_high"]) == pytest.approx((ci.low, ci.high), abs=0.004)


def test_detectable_difference_matches_statsmodels_t_test_power():
    TTestPower = pytest.importorskip("statsmodels.stats.power").TTestPower

    for df, se in [(2, 0.004), (4, 0.01), (29, 0.002)]:
        effect = TTestPower().solve_power(nobs=df + 1, alpha=0.05, power=0.8, alternative="two-sided")
        assert detectable_difference(se, df) == pytest.approx(effect * math.sqrt(df + 1) * se, rel=1e-5)
    normal = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 0.01
    assert detectable_difference(0.01, None) == pytest.approx(normal, rel=1e-3)
    assert detectable_difference(0.0, 3) == 0.0


def test_mcnemar_per_seed_and_holm_match_statsmodels():
    mcnemar = pytest.importorskip("statsmodels.stats.contingency_tables").mcnemar
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests

    a, b = _studies("2-point difference")
    _, c = _studies("equal models", seed=8)
    out = compare_groups({"a": dict(enumerate(a)), "b": dict(enumerate(b)), "c": dict(enumerate(c))}, n_boot=200)
    assert [(x["a"], x["b"]) for x in out] == [("a", "b"), ("a", "c"), ("b", "c")]
    p = [x["test"]["p_value"] for x in out]
    assert [x["test"]["p_holm"] for x in out] == pytest.approx(multipletests(p, method="holm")[1])
    assert [x["test"]["significant"] for x in out] == list(multipletests(p, alpha=0.05, method="holm")[0])
    first = out[0]
    assert first["paired"] and [m["seed_a"] for m in first["mcnemar"]] == list(range(5))
    for m, ra, rb in zip(first["mcnemar"], a, b, strict=True):
        table = [[np.sum(ra & rb), np.sum(ra & ~rb)], [np.sum(~ra & rb), np.sum(~ra & ~rb)]]
        assert m["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue)
    json.dumps(out, allow_nan=False)  # plain JSON for the report


def test_pairing_seed_order_and_a_single_seed():
    a, b = _studies("2-point difference")
    forward = compare_pair(dict(enumerate(a)), {s: b[s] for s in reversed(range(5))}, n_boot=200)
    assert forward["paired"] and forward["seeds_b"] == [0, 1, 2, 3, 4]
    unpaired = compare_pair(a, {s + 5: r for s, r in enumerate(b)}, n_boot=200)
    assert not unpaired["paired"] and unpaired["difference"]["n"] == "5 + 5 seeds x 1000 test images"
    assert forward["difference"]["n"] == "5 paired seeds x 1000 test images"
    assert forward["difference"]["estimate"] == pytest.approx(np.mean(a) - np.mean(b))
    single = compare_pair([a[0]], [b[0]], n_boot=200)
    assert single["difference"]["seed_part"] is False and single["prob_improvement"]["seed_part"] is False
    assert single["difference"]["method"] == forward["difference"]["method"]  # the same kind, from what it has
    one = accuracy_interval({3: a[0]})
    assert one["seed_part"] is False and one["n_seeds"] == 1
    many = accuracy_interval(a)
    assert many["seed_part"] is True and many["low"] < np.mean(a) < many["high"] and many["df"] > 0
    with pytest.raises(ValueError, match="different test sets: 1000 vs 999 images"):
        compare_pair(a, [r[:999] for r in b])
    with pytest.raises(ValueError, match="same images"):
        accuracy_interval([a[0], a[1][:10]])
    with pytest.raises(ValueError, match="expected correctness"):
        accuracy_interval([np.array([0, 3, 1])])  # predictions, not correctness


def test_intervals_stay_inside_their_range_at_the_extremes():
    right, wrong = np.ones(50, bool), np.zeros(50, bool)
    almost = right.copy()
    almost[0] = False
    for runs in ([right, right, almost], [wrong, almost, wrong], [almost]):
        r = accuracy_interval(runs)
        assert 0.0 <= r["low"] <= r["estimate"] <= r["high"] <= 1.0
    for a, b in [([right, almost], [wrong, wrong]), ([almost, right], [right, right]), ([almost], [~almost])]:
        d = difference_interval(pair_runs(a, b))
        assert -1.0 <= d["low"] <= d["estimate"] <= d["high"] <= 1.0
    same = difference_interval(pair_runs([almost, almost], [almost, almost]))
    assert same["low"] == same["high"] == 0.0
    assert difference_test(pair_runs([almost, almost], [almost, almost]))["p_value"] == 1.0


def test_describe_comparison_in_words():
    c = {
        "a": "mlp/torch",
        "b": "cnn-tiny/keras",
        "difference": {"estimate": -0.018, "low": -0.031, "high": -0.004, "seed_part": True},
        "prob_improvement": {"estimate": 0.07},
        "test": {"p_value": 0.004, "p_holm": 0.012, "significant": True},
    }
    expected = "cnn-tiny/keras beats mlp/torch by 1.8 points [0.4, 3.1], P(improvement) 0.93, significant after Holm"
    assert describe_comparison(c) == expected
    c["test"] = {"p_value": 0.2, "p_holm": 0.4, "significant": False}
    c["difference"]["seed_part"] = False
    text = describe_comparison(c)
    assert text.startswith("cnn-tiny/keras is ahead of mlp/torch by 1.8 points")
    assert "not significant after Holm" in text and "single seed" in text
    c["difference"] = {"estimate": 0.0, "low": -0.01, "high": 0.01, "seed_part": True}
    c["prob_improvement"] = {"estimate": 0.5}
    assert describe_comparison(c).startswith("mlp/torch and cnn-tiny/keras tie: 0.0 points [-1.0, 1.0]")


def test_power_summary_and_seed_warnings():
    a, b = _studies("2-point difference")
    _, c = _studies("equal models", seed=8)
    out = compare_groups({"a": a, "b": b, "c": c}, n_boot=200)
    summary = power_summary(out)
    values = sorted(x["detectable_difference"] for x in out)
    assert summary["pairs"] == 3 and summary["median"] == pytest.approx(values[1])
    assert summary["min"] == values[0] and summary["max"] == values[2] and summary["seed_part"] is True
    # 5 seeds x 1000 images at about 90%: a couple of points, and never less than the interval's half-width
    for x in out:
        half = (x["difference"]["high"] - x["difference"]["low"]) / 2
        assert half < x["detectable_difference"] < 0.06
    assert power_summary([])["median"] is None
    assert seed_warnings({"mlp/numpy": 1, "cnn/torch": 2, "cnn/keras": 3}) == [
        "mlp/numpy has 1 seed (no seed-to-seed variance in its intervals); use at least 3",
        "cnn/torch has 2 seeds (seed variance from one degree of freedom); use at least 3",
    ]
