"""Fixtures of the unit tests."""

from __future__ import annotations

import pytest

from imgbench.engines.numpy import parallel


@pytest.fixture(params=["serial", "threaded"])
def threads(request, monkeypatch):
    """Run a kernel on one thread, then with every split forced onto two threads."""
    if request.param == "threaded":
        monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
        monkeypatch.setenv("IMGBENCH_NUMPY_THREADS", "2")
    else:
        monkeypatch.setenv("IMGBENCH_NUMPY_THREADS", "1")
    return request.param
