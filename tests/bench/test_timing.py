"""Interleaved rounds: every case in every round, rotated order, warm-up not recorded."""
from fuse_trt.bench.timing import TimedCase, TimingConfig, rotated, run_interleaved


def test_rotation_visits_every_case_once_per_round():
    assert rotated(3, 0) == [0, 1, 2]
    assert rotated(3, 1) == [1, 2, 0]
    assert rotated(3, 5) == [2, 0, 1]


def test_rounds_interleave_and_stop_at_min_iters():
    calls = []
    cases = [TimedCase(key, (lambda key=key: calls.append(key))) for key in "abc"]
    config = TimingConfig(warmup_ms=0.0, duration_s=0.0, min_iters=4, slice_ms=1e-9)
    fractions = []
    times = run_interleaved(cases, config, fractions.append)
    assert calls[:3] == ["a", "b", "c"]  # one warm-up call each, not recorded
    measured = calls[3:]
    assert measured == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    assert {key: len(values) for key, values in times.items()} == {"a": 4, "b": 4, "c": 4}
    assert all(t >= 0.0 for values in times.values() for t in values)
    assert fractions == [0.25, 0.5, 0.75, 1.0]


def test_slices_give_fast_cases_more_iterations():
    import time

    fast = TimedCase("fast", lambda: None)
    slow = TimedCase("slow", lambda: time.sleep(0.004))
    config = TimingConfig(warmup_ms=0.0, duration_s=0.0, min_iters=2, slice_ms=3.0)
    times = run_interleaved([fast, slow], config)
    assert len(times["slow"]) == 2  # one sleep fills a slice
    assert len(times["fast"]) > 2 * len(times["slow"])
