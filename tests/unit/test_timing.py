"""Timing: warm-up, repetition until enough work is done, median and spread; inference speed on a fake engine."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from imgbench.evaluation import best_round_timing, inference_speed, repeat_timing, timing_summary
from imgbench.evaluation import timing as timing_module


class FakeClock:
    """A clock that each call of ``work`` advances by the next scripted duration: timing without waiting."""

    def __init__(self, durations):
        self.now = 0.0
        self.durations = itertools.cycle(durations)
        self.calls = 0

    def __call__(self) -> float:
        return self.now

    def work(self) -> None:
        self.calls += 1
        self.now += next(self.durations)


def test_slow_calls_repeat_min_repeats_times_after_the_warmup():
    clock = FakeClock([2.0])
    r = repeat_timing(clock.work, min_seconds=1.0, min_repeats=5, warmup=2, clock=clock)
    assert r["repeats"] == 5 and clock.calls == 7  # two untimed warm-up calls, then five timed ones
    assert r["median"] == r["q25"] == r["q75"] == r["min"] == r["max"] == 2.0
    assert r["total_seconds"] == 10.0 and r["warmup"] == 2


def test_fast_calls_repeat_until_min_seconds_of_work():
    clock = FakeClock([0.01])
    r = repeat_timing(clock.work, min_seconds=1.0, min_repeats=5, warmup=0, clock=clock)
    assert r["total_seconds"] >= 1.0 and r["repeats"] == pytest.approx(100, abs=1)
    capped = repeat_timing(clock.work, min_seconds=1.0, max_repeats=20, clock=clock)
    assert capped["times"] == pytest.approx([0.01] * 20) and capped["repeats"] == 20


def test_the_median_shrugs_off_a_competitor_that_takes_the_cpu_now_and_then():
    # 1 ms of work; one call in five is slowed to 50 ms by another process
    clock = FakeClock([0.001, 0.001, 0.050, 0.001, 0.001])
    r = repeat_timing(clock.work, min_seconds=0.5, min_repeats=5, warmup=1, clock=clock)
    assert r["median"] == pytest.approx(0.001)
    assert r["q25"] == pytest.approx(0.001) and r["max"] == pytest.approx(0.050)
    assert r["total_seconds"] / r["repeats"] > 0.01  # the mean would have reported ten times the work


def test_a_slow_stretch_is_left_out_by_keeping_the_fastest_round():
    # the first 100 calls (a cold start, a busy host) take twice as long: the first round is all slow calls
    clock = FakeClock([0.002] * 100 + [0.001] * 400)
    r = best_round_timing(clock.work, min_seconds=0.5, rounds=5, min_repeats=5, warmup=1, clock=clock)
    assert r["rounds"] == 5 and len(r["round_medians"]) == 5
    assert r["round_medians"][0] == pytest.approx(0.002) and r["median"] == pytest.approx(0.001)
    assert r["q25"] == r["q75"] == pytest.approx(0.001)  # the quartiles of the round that is reported
    assert r["repeats"] == clock.calls - 1 and r["total_seconds"] >= 0.5  # every round's calls count as work


def test_slow_calls_make_one_call_rounds_and_the_fastest_call_is_reported():
    clock = FakeClock([3.0, 2.0, 2.5, 2.2, 2.1, 2.4])
    r = best_round_timing(clock.work, min_seconds=0.5, rounds=5, min_repeats=5, warmup=1, clock=clock)
    assert r["repeats"] == 5 and clock.calls == 6  # one warm-up, then one call per round: as many as before
    assert r["round_medians"] == pytest.approx([2.0, 2.5, 2.2, 2.1, 2.4]) and r["median"] == r["min"] == 2.0


def test_timing_summary_quartiles():
    s = timing_summary([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s["min"], s["q25"], s["median"], s["q75"], s["max"]) == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert s["repeats"] == 5 and s["total_seconds"] == 15.0


def test_real_clock_honours_min_seconds_and_min_repeats():
    r = repeat_timing(lambda: sum(range(2000)), min_seconds=0.05, min_repeats=5)
    assert r["repeats"] >= 5 and r["total_seconds"] >= 0.05
    assert 0 < r["min"] <= r["q25"] <= r["median"] <= r["q75"] <= r["max"]


class FakeEngine:
    """predict_logits costs a little CPU time per image, and records the batch sizes it was asked for.

    It spins rather than sleeps: inference_speed measures CPU time, in which a sleep costs nothing.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def predict_logits(self, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
        self.calls.append((len(X), batch_size))
        end = time.process_time() + 2e-5 * len(X)
        while time.process_time() < end:
            pass
        return np.zeros((len(X), 10), np.float32)


def test_inference_speed_keeps_its_keys_and_adds_the_spread():
    engine = FakeEngine()
    X = np.zeros((600, 1, 8, 8), np.float32)
    m = inference_speed(engine, X, batch_size=256, min_seconds=0.02, min_repeats=5)
    assert m["batch_size"] == 256
    assert m["throughput_images_per_s_q25"] <= m["throughput_images_per_s"] <= m["throughput_images_per_s_q75"]
    assert m["latency_ms_q25"] <= m["latency_ms"] <= m["latency_ms_q75"]
    assert m["throughput_repeats"] >= 5 and m["latency_repeats"] >= 5
    # 20 microseconds of CPU per image: throughput below 100,000 images per CPU-second, latency above 0.01 ms
    assert 1_000 < m["throughput_images_per_s"] < 100_000 and m["latency_ms"] > 0.01
    assert set(engine.calls) == {(256, 256), (1, 1)}  # whole batches for throughput, one image for latency
    assert engine.calls.count((256, 256)) == m["throughput_repeats"] + 1  # every round's calls + the warm-up
    small = inference_speed(FakeEngine(), X[:40], min_seconds=0.0)
    assert small["batch_size"] == 40  # fewer images than a batch: the throughput is of what there is


def test_inference_speed_lives_in_timing_and_is_exported():
    assert inference_speed is timing_module.inference_speed
    assert timing_module.RUN_MIN_SECONDS <= 0.5


def test_start_up_is_the_first_epoch_beyond_the_median_of_the_later_ones():
    from imgbench.studies.report_tables import startup_seconds

    def epochs(*seconds):
        return [{"epoch": i + 1, "seconds": s} for i, s in enumerate(seconds)]

    # Keras: 0.9 s of tracing in the first epoch, later epochs about 0.08 s (one slow outlier ignored)
    assert startup_seconds(epochs(1.0, 0.08, 0.07, 0.09, 0.5)) == pytest.approx(1.0 - 0.085)
    assert startup_seconds(epochs(0.05, 0.08, 0.07)) == 0.0  # never negative: a quick first epoch is no start-up
    assert startup_seconds(epochs(3.0)) is None  # one epoch: nothing to tell start-up from training
