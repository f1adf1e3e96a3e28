"""The statistics against values computed by hand, trtexec's nearest-rank rule included."""
import math

import pytest

from fuse_trt.bench.stats import median, percentile, ratio, summarize


def test_percentiles_of_ten_follow_trtexec():
    times = [float(t) for t in range(1, 11)]
    # exclude = int((1 - p/100) * 10); value t[max(9 - exclude, 0)]. In doubles
    # (1 - 0.9) * 10 = 0.9999999999999998, so exclude is 0 for p90 as in trtexec.
    assert percentile(times, 90) == 10.0
    assert percentile(times, 80) == 9.0  # 1.9999999999999996 -> 1 -> t[8]
    assert percentile(times, 50) == 5.0  # 5 -> t[4]
    assert percentile(times, 95) == 10.0
    assert percentile(times, 99) == 10.0
    assert percentile(times, 0) == 1.0
    assert percentile(times, 100) == 10.0


def test_percentiles_of_hundred_keep_trtexecs_float_truncation():
    times = [float(t) for t in range(1, 101)]
    # (1 - 0.90) * 100 = 9.999999999999998 -> int 9 -> t[90] = 91 (trtexec gives the same)
    assert percentile(times, 90) == 91.0
    assert percentile(times, 95) == 95.0  # 5.000000000000004 -> 5 -> t[94]
    assert percentile(times, 99) == 99.0  # 1.0000000000000009 -> 1 -> t[98]
    assert percentile(times, 50) == 50.0  # 50 -> t[49]


def test_percentile_of_one_sample_and_bad_input():
    assert percentile([7.0], 99) == 7.0
    assert percentile([7.0], 10) == 7.0  # exclude 0 -> t[0]; index never below 0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_median_odd_and_even():
    assert median([1.0, 2.0, 9.0]) == 2.0
    assert median([1.0, 2.0, 4.0, 9.0]) == 3.0


def test_summary_by_hand():
    stats = summarize([4.0, 1.0, 3.0, 2.0], batch=2)  # unsorted on purpose
    assert stats.median_ms == 2.5
    assert stats.mean_ms == 2.5
    assert stats.min_ms == 1.0 and stats.max_ms == 4.0
    # population std: sqrt(((1.5)^2 + (0.5)^2 + (0.5)^2 + (1.5)^2) / 4) = sqrt(1.25)
    assert stats.std_ms == pytest.approx(math.sqrt(1.25))
    assert stats.cv == pytest.approx(math.sqrt(1.25) / 2.5)
    assert stats.p90_ms == 4.0  # exclude int(0.4) = 0 -> t[3]
    assert stats.p99_ms == 4.0
    assert stats.iterations == 4
    assert stats.total_s == pytest.approx(0.010)
    assert stats.throughput_per_s == pytest.approx(2 * 4 / 0.010)  # 800 images/s


def test_summary_of_constant_times_has_zero_cv():
    stats = summarize([5.0] * 7)
    assert stats.cv == 0.0 and stats.p95_ms == 5.0 and stats.throughput_per_s == 200.0
    with pytest.raises(ValueError):
        summarize([])


def test_ratio_handles_missing_values():
    assert ratio(6.0, 3.0) == 2.0
    assert ratio(None, 3.0) is None and ratio(1.0, None) is None and ratio(1.0, 0.0) is None
