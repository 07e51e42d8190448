import itertools
import math

import pytest

from imgbench.training import make_schedule


def test_constant_and_step():
    assert [make_schedule("constant", 0.1, 10)(s) for s in (0, 9)] == [0.1, 0.1]
    step = make_schedule("step", 1.0, 9, gamma=0.5)
    assert [step(s) for s in (0, 2, 3, 6, 8)] == [1.0, 1.0, 0.5, 0.25, 0.25]


def test_cosine_with_warmup():
    sch = make_schedule("cosine", 1.0, 110, warmup=10)
    assert sch(0) == pytest.approx(0.1) and sch(9) == pytest.approx(1.0)
    assert sch(10) == pytest.approx(1.0)
    assert sch(10 + 99 // 2) == pytest.approx(0.5 * (1 + math.cos(math.pi * (49 / 99))))
    assert sch(109) == pytest.approx(0.0, abs=1e-12)
    values = [sch(s) for s in range(10, 110)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_one_cycle_rises_then_falls():
    sch = make_schedule("onecycle", 1.0, 100, pct=0.3)
    assert sch(0) == pytest.approx(1 / 25)
    assert sch(30) == pytest.approx(1.0)
    assert sch(99) == pytest.approx(1e-4)
    assert max(sch(s) for s in range(100)) == pytest.approx(1.0)


def test_unknown_schedule():
    with pytest.raises(ValueError, match="unknown schedule 'warp'"):
        make_schedule("warp", 1.0, 10)
