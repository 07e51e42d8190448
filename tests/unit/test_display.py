"""Jupyter reprs of runs, studies and metrics (tables and inline figures, nothing fetched) and the notebook bar."""

from __future__ import annotations

import base64
import re

import pytest

from imgbench.fileio import read_json, write_yaml
from imgbench.runs.results import Metrics, RunDir, StudyDir
from imgbench.runs.runner import evaluate_run, train_run
from imgbench.settings import RunSettings
from imgbench.training.callbacks import bar_class

INLINE_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A study directory holding one short run on the embedded digits."""
    folder = tmp_path_factory.mktemp("study")
    write_yaml(folder / "study.yaml", {"study": {"name": "mini"}, "runs": ["digits-mlp"]})
    settings = RunSettings(
        dataset="digits",
        model="mlp-small",
        engine="numpy",
        runs_dir=str(folder / "runs"),
        name="digits-mlp",
        quiet=True,
        train={"epochs": 2, "max_steps": 6},
    )
    return folder, train_run(settings)


def assert_self_contained(html: str, images: int) -> list[bytes]:
    """No address to fetch anything from, and ``images`` inline PNGs; returns them decoded."""
    assert not re.search(r"https?://", html)
    pngs = [base64.b64decode(data) for data in INLINE_PNG.findall(html)]
    assert len(pngs) == images and all(png.startswith(b"\x89PNG") for png in pngs)
    return pngs


def test_a_run_shows_its_metrics_curves_and_confusion_matrix(study):
    _, run = study
    assert isinstance(run, RunDir)  # what imgbench.train returns
    html = run._repr_html_()
    metrics = read_json(run / "metrics.json")
    assert f"{metrics['accuracy']:.4f}" in html and f"{metrics['f1_macro']:.4f}" in html
    assert "<h4>run digits-mlp</h4>" in html and "mlp-small / numpy on digits" in html
    pngs = assert_self_contained(html, images=2)
    assert pngs == [(run / "plots" / "curves.png").read_bytes(), (run / "plots" / "confusion_matrix.png").read_bytes()]
    assert (run / "plots")._repr_html_() is None  # a path inside a run shows as a path


def test_evaluate_gives_metrics_that_show_as_tables_and_a_confusion_matrix(study):
    _, run = study
    metrics = evaluate_run(run)
    assert isinstance(metrics, Metrics) and isinstance(metrics, dict)
    html = metrics._repr_html_()
    assert f"{metrics['accuracy']:.4f}" in html and f"{metrics['log_loss']:.4f}" in html
    assert all(f"<td>{name}</td>" in html for name in metrics["per_class"])
    assert_self_contained(html, images=1)


def test_a_study_shows_its_runs_and_curves(study):
    folder, _ = study
    row = read_json(folder / "runs" / "digits-mlp" / "metrics.json")
    html = StudyDir(folder)._repr_html_()
    assert "<h4>study mini</h4>" in html
    assert f"<td>{row['accuracy']:.4f}</td>" in html and "<td>1 of 1</td>" in html
    assert_self_contained(html, images=1)  # no report yet: the curves drawn from the runs' histories
    report_files = folder / "report_files"
    report_files.mkdir()
    figure = (folder / "runs" / "digits-mlp" / "plots" / "curves.png").read_bytes()
    (report_files / "digits-curves.png").write_bytes(figure)
    try:
        assert assert_self_contained(StudyDir(folder)._repr_html_(), images=1) == [figure]  # the report's, as it is
    finally:
        (report_files / "digits-curves.png").unlink()
        report_files.rmdir()


def test_text_is_escaped():
    html = Metrics({"accuracy": 0.5, "per_class": {"<b>cat</b>": {"precision": 1, "recall": 1, "f1": 1, "support": 2}}})
    shown = html._repr_html_()
    assert "&lt;b&gt;cat&lt;/b&gt;" in shown and "<b>cat</b>" not in shown


def test_the_progress_bar_is_tqdms_widget_in_a_notebook(monkeypatch):
    import tqdm.auto
    import tqdm.notebook

    assert bar_class(tty=False) is None  # a pipe or a log file: one line per epoch, no bar
    assert bar_class(tty=True) is tqdm.auto.tqdm
    widget = type("Widget", (tqdm.notebook.tqdm,), {})  # what tqdm.auto is inside Jupyter with ipywidgets
    monkeypatch.setattr(tqdm.auto, "tqdm", widget)
    assert bar_class(tty=False) is widget
