"""The report's statistics (issue 21) on a real small study: comparisons over every seed, intervals that say what
they are, power, seed warnings, sentences, timings; and inference throughput that a competing process leaves
stable from seed to seed."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from imgbench.evaluation import accuracy_interval, compare_groups, describe_comparison, power_summary
from imgbench.studies.report_render import pct

from .test_cli_data import run_cli

MODELS = ("mlp-small", "cnn-tiny")
STUDY = """
name: stats
seeds: [0, 1, 2]
train: {epochs: 4, batch_size: 64}
datasets: [digits]
models: [mlp-small, cnn-tiny]
engines: [numpy]
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A 2 models x numpy x 3 seeds study on digits, run while a CPU-bound process competes for the cores."""
    folder = tmp_path_factory.mktemp("stats")
    (folder / "study.yaml").write_text(STUDY)
    competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        proc = run_cli("compare", folder / "study.yaml", "--out", folder / "out", timeout=300)
    finally:
        competitor.kill()
        competitor.wait()
    assert proc.returncode == 0, proc.stderr
    return folder / "out"


def _run(out: Path, model: str, seed: int) -> Path:
    return out / "runs" / f"digits-{model}-numpy-seed{seed}"


def _correct(run: Path) -> np.ndarray:
    with np.load(run / "predictions.npz") as z:
        return z["probs"].argmax(1) == z["y_true"]


def _runs_of(out: Path, model: str, seeds=(0, 1, 2)) -> dict[int, np.ndarray]:
    return {s: _correct(_run(out, model, s)) for s in seeds}


def _row(md: str, label: str) -> list[str]:
    """The cells of the summary table's row of ``label`` (the first table row that starts with it)."""
    line = next(x for x in md.splitlines() if x.startswith(f"| {label} | "))
    return [c.strip() for c in line.strip("|").split("|")]


def _interval_text(iv: dict) -> str:
    return f"{pct(iv['low'])} – {pct(iv['high'])}"


def test_comparisons_use_every_seed_and_every_interval_says_what_it_is(study):
    md, page = (study / "report.md").read_text(), (study / "report.html").read_text()
    runs = {f"{m} / numpy": _runs_of(study, m) for m in MODELS}
    n_images = len(runs["mlp-small / numpy"][0])
    (c,) = compare_groups(runs)
    # the comparison rests on all 3 seeds of both models, and its McNemar column counts the 3 seed pairs
    assert f"n = 3 paired seeds x {n_images} test images" in md
    pair = next(x for x in md.splitlines() if x.startswith("| mlp-small / numpy | cnn-tiny / numpy | "))
    assert pair.endswith(f"| {sum(m['p_value'] < 0.05 for m in c['mcnemar'])} of 3 seed pairs |"), pair
    seed_rows = re.findall(r"^\| mlp-small / numpy \| cnn-tiny / numpy \| (\d) \| (\d) \|", md, re.M)
    assert seed_rows == [("0", "0"), ("1", "1"), ("2", "2")]
    assert f"[{100 * c['difference']['low']:+.2f}, {100 * c['difference']['high']:+.2f}]" in pair
    # every interval names its method, confidence and n, in both formats
    for model in MODELS:
        iv = accuracy_interval(runs[f"{model} / numpy"])
        assert _interval_text(iv) in _row(md, f"{model} / numpy")
        assert iv["n"] == f"3 seeds x {n_images} test images"
    for what in (iv, c["difference"], c["prob_improvement"]):
        caption = f"95% interval, {what['method']}; n = {what['n']}"
        assert caption in md and html.escape(caption) in page, caption
    # power and the sentence, in both formats; no seed warning with 3 seeds each
    power = power_summary([c])
    assert f"Power: a true difference of {100 * power['median']:.1f} accuracy points" in md
    sentence = describe_comparison(c)
    assert sentence in md and html.escape(sentence) in page
    assert "Too few seeds" not in md
    # timings: runs that measured repeatedly report quartiles; the start-up stands apart from the later epochs
    timing = next(x for x in md.splitlines() if x.startswith("| mlp-small / numpy | ") and "IQR" in x)
    assert timing.count("[IQR") == 3 and "[seeds" in timing, timing  # images/s, latency, later epochs; start-up


def test_a_single_seed_is_labelled_and_warned_about(study, tmp_path):
    runs = [_run(study, "mlp-small", s) for s in (0, 1, 2)] + [_run(study, "cnn-tiny", 0)]
    proc = run_cli("report", *runs, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    md, page = (tmp_path / "report.md").read_text(), (tmp_path / "report.html").read_text()
    single = accuracy_interval([_correct(_run(study, "cnn-tiny", 0))])
    assert single["method"].startswith("Wilson") and not single["seed_part"]
    assert f"{_interval_text(single)} (one seed)" in _row(md, "cnn-tiny / numpy")
    assert f"95% interval, {single['method']}; n = 1 seed x {single['n_images']} test images (cnn-tiny / numpy)" in md
    assert "One seed (cnn-tiny / numpy): the seed part of the variance is missing" in md
    warning = "cnn-tiny / numpy has 1 seed (no seed-to-seed variance in its intervals); use at least 3"
    assert f"**Too few seeds:** {warning}" in md and html.escape(warning) in page
    assert "3 + 1 seeds x" in md and "Too optimistic" in md
    (c,) = compare_groups({"mlp-small / numpy": _runs_of(study, "mlp-small"), "cnn-tiny / numpy": [_correct(runs[3])]})
    assert c["mcnemar"][0]["seed_a"] == 0 and len(c["mcnemar"]) == 1
    assert describe_comparison(c) in md and html.escape(describe_comparison(c)) in page


def test_an_interval_near_100_percent_is_not_clipped(study, tmp_path):
    """Three runs at 100%, 99% and 93%: a t-interval across seeds would reach past 100% and be printed as
    100.00% once clipped; the report prints the pivotal interval, inside [0, 1] by construction."""
    runs = []
    for seed, wrong in zip((0, 1, 2), (0, 4, 25), strict=True):
        run = shutil.copytree(_run(study, "mlp-small", seed), tmp_path / "runs" / f"near-100-seed{seed}")
        with np.load(run / "predictions.npz") as z:
            y_true = z["y_true"]
        probs = np.eye(10, dtype=np.float32)[(y_true + (np.arange(len(y_true)) < wrong)) % 10]
        np.savez_compressed(run / "predictions.npz", y_true=y_true, probs=probs)
        metrics = json.loads((run / "metrics.json").read_text())
        metrics["accuracy"] = 1 - wrong / len(y_true)
        for key in [k for k in metrics if k.endswith(("_q25", "_q75"))]:  # as runs timed before quartiles existed
            del metrics[key]
        (run / "metrics.json").write_text(json.dumps(metrics))
        runs.append(run)
    proc = run_cli("report", *runs, "--out", tmp_path / "report")
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "report" / "report.md").read_text()
    accuracy = [1 - w / len(y_true) for w in (0, 4, 25)]
    t_high = np.mean(accuracy) + 4.303 * np.std(accuracy, ddof=1) / np.sqrt(3)  # t(0.975, 2) = 4.303
    assert t_high > 1.0
    iv = accuracy_interval([_correct(r) for r in runs])
    row = _row(md, "mlp-small / numpy")
    assert _interval_text(iv) in row and iv["high"] < 0.9999 and "100.00%" not in row[5], row
    timing = next(x for x in md.splitlines() if x.startswith("| mlp-small / numpy | ") and "[seeds" in x)
    assert "IQR" not in timing.split("|")[2], timing  # no quartiles recorded: the range over seeds instead


def test_throughput_of_the_seeds_agrees_while_a_process_competes(study):
    """The measured throughput of the seeds of any model/engine pair is within a factor of 1.5 of each other, and
    stays within it when a CPU-bound process competes for the cores during the study."""
    for model in MODELS:
        configs = [yaml.safe_load((_run(study, model, s) / "config.yaml").read_text()) for s in (0, 1, 2)]
        assert {c["engine"] for c in configs} == {"numpy"}
        speed = [json.loads((_run(study, model, s) / "metrics.json").read_text()) for s in (0, 1, 2)]
        throughput = [m["throughput_images_per_s"] for m in speed]
        assert max(throughput) / min(throughput) <= 1.5, (model, throughput)
