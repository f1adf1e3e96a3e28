"""Interleaved rounds: every case in every round, balanced order, warm-up not recorded."""
from collections import Counter

from hypothesis import given, strategies as st

from fuse_trt.bench.timing import TimedCase, TimingConfig, balanced_order, run_interleaved


@given(count=st.integers(1, 16), start=st.integers(0, 1000))
def test_over_a_cycle_every_case_follows_every_other_equally_often(count, start):
    cycle = count if count % 2 == 0 else 2 * count
    orders = [balanced_order(count, start + offset) for offset in range(cycle)]
    assert all(sorted(order) == list(range(count)) for order in orders)
    successions = Counter(pair for order in orders for pair in zip(order, order[1:]))
    expected = cycle * (count - 1) // (count * (count - 1)) if count > 1 else 0
    assert set(successions) == {(a, b) for a in range(count) for b in range(count) if a != b}
    assert set(successions.values()) <= {expected}
    positions = Counter((position, case) for order in orders for position, case in
                        enumerate(order))
    assert set(positions.values()) == {cycle // count}


def test_rounds_interleave_and_stop_at_min_iters():
    calls = []
    cases = [TimedCase(key, (lambda key=key: calls.append(key))) for key in "abc"]
    config = TimingConfig(warmup_ms=0.0, duration_s=0.0, min_iters=4, slice_ms=1e-9,
                          slice_warmup_iters=0)
    fractions = []
    times = run_interleaved(cases, config, fractions.append)
    assert calls[:3] == ["a", "b", "c"]  # one warm-up call each, not recorded
    measured = calls[3:]
    assert measured == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "c", "b", "a"]
    assert {key: len(values) for key, values in times.items()} == {"a": 4, "b": 4, "c": 4}
    assert all(t >= 0.0 for values in times.values() for t in values)
    assert fractions == [0.25, 0.5, 0.75, 1.0]


def test_slices_give_fast_cases_more_iterations():
    import time

    fast = TimedCase("fast", lambda: None)
    slow = TimedCase("slow", lambda: time.sleep(0.004))
    config = TimingConfig(warmup_ms=0.0, duration_s=0.0, min_iters=2, slice_ms=3.0,
                          slice_warmup_iters=0)
    times = run_interleaved([fast, slow], config)
    assert len(times["slow"]) == 2  # one sleep fills a slice
    assert len(times["fast"]) > 2 * len(times["slow"])


def test_every_slice_opens_with_untimed_iterations_of_its_own_case():
    import time

    calls = []
    durations = {"a": 1.0, "b": 2.0}  # ms each timed call should record

    def case(key):
        def run():
            calls.append(key)
            # an opening call is slow (the previous case's threads still spin): 50 ms
            slow = len(calls) < 2 or calls[-2] != key
            time.sleep((50.0 if slow else durations[key]) / 1000)
        return TimedCase(key, run)

    config = TimingConfig(warmup_ms=0.0, duration_s=0.0, min_iters=3, slice_ms=1e-9,
                          slice_warmup_iters=2)
    times = run_interleaved([case("a"), case("b")], config)
    measured = calls[2:]  # after one warm-up call each
    assert measured == ["a"] * 3 + ["b"] * 3 + ["b"] * 3 + ["a"] * 3 + ["a"] * 3 + ["b"] * 3
    assert {key: len(values) for key, values in times.items()} == {"a": 3, "b": 3}
    assert max(t for values in times.values() for t in values) < 40.0  # slow openers untimed
