"""Fixtures shared by the integration tests."""

from __future__ import annotations

import time

import pytest

from .test_cli_data import run_cli


@pytest.fixture(scope="session")
def quick_study(tmp_path_factory):
    """`imgbench compare --preset quick`, run once for every test that reads it (none may change it):
    ``(study folder, the finished process, seconds)``."""
    out = tmp_path_factory.mktemp("quick") / "study"
    t = time.perf_counter()
    proc = run_cli("compare", "--preset", "quick", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out, proc, time.perf_counter() - t
