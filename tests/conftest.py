"""Shared fixtures: an isolated cache, offline mode, and the real datasets in ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = Path(os.environ.get("IMGBENCH_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """A cache directory shared by the whole session (decoded CIFAR-10 is reused)."""
    return tmp_path_factory.mktemp("imgbench-cache")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, session_cache):
    """No test reads the user's cache or data directory, and none goes online."""
    monkeypatch.setenv("IMGBENCH_CACHE", str(session_cache))
    monkeypatch.delenv("IMGBENCH_DATA", raising=False)
    monkeypatch.setenv("IMGBENCH_OFFLINE", "1")


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path) -> Path:
    """An empty cache for tests that count cache hits."""
    path = tmp_path / "cache"
    monkeypatch.setenv("IMGBENCH_CACHE", str(path))
    return path


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets``; tests that need real data are skipped without it."""
    if not (SHARED_DATASETS / "mnist").is_dir():
        if os.environ.get("IMGBENCH_REQUIRE_SHARED"):
            pytest.fail(f"real datasets not found at {SHARED_DATASETS} (IMGBENCH_REQUIRE_SHARED is set)")
        pytest.skip(f"real datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
