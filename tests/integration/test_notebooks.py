"""The notebooks in notebooks/: each percent-format script runs top to bottom, and its .ipynb matches it.

The scripts (``notebooks/*.py``, jupytext's percent format) are the reviewed form; the ``.ipynb`` files are
generated from them (``jupytext --to ipynb notebooks/*.py``).  Each script is converted with jupytext and
executed by nbclient in a python3 kernel of this interpreter, with ``IMGBENCH_NOTEBOOK_SMALL=1`` (small data,
few steps) and in a temporary working directory, so the repository stays clean.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..conftest import REPO, SHARED_DATASETS

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

NOTEBOOKS = REPO / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("*.py"))
# The default suite executes the from-scratch notebook (5 s); the others take 20-45 s each in small mode
# (TensorFlow start-up, several runs) and run with -m slow, which CI runs too.
FAST = {"numpy-from-scratch"}
SLOW = {p.stem for p in SCRIPTS} - FAST


def _params():
    return [pytest.param(path, id=path.stem, marks=[pytest.mark.slow] if path.stem in SLOW else []) for path in SCRIPTS]


def test_every_notebook_is_listed():
    assert SCRIPTS, f"no notebooks found in {NOTEBOOKS}"
    assert {p.stem for p in SCRIPTS} >= FAST


@pytest.mark.parametrize("script", _params())
def test_notebook_runs_in_small_mode(script: Path, tmp_path, monkeypatch):
    monkeypatch.setenv("IMGBENCH_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if (SHARED_DATASETS / "mnist").is_dir():
        monkeypatch.setenv("IMGBENCH_DATA", str(SHARED_DATASETS))  # otherwise the notebooks fall back to digits
    # The kernel is a child process: it inherits the environment set above (offline, isolated cache).
    notebook = jupytext.read(script)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{script.name} failed in small mode:\n{exc}")
    errors = [
        o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    assert os.listdir(tmp_path) or script.stem == "numpy-from-scratch"  # the others write their runs here


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_paired_ipynb_matches_its_script(script: Path):
    paired = script.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} is missing: run `jupytext --to ipynb notebooks/{script.name}`"
    expected = [(c.cell_type, c.source) for c in jupytext.read(script).cells]
    found = [(c.cell_type, c.source) for c in nbformat.read(paired, as_version=4).cells]
    assert found == expected, f"{paired.name} is out of date: run `jupytext --to ipynb notebooks/{script.name}`"
