"""Latency statistics, computed exactly as trtexec computes them.

Percentiles are nearest-rank on the sorted times: ``exclude = int((1 - p/100) * N)`` and the
value is ``t[max(N - 1 - exclude, 0)]``. The median of an even count is the mean of the two
middle values (trtexec's ``findMedian``). The coefficient of variation is the population
standard deviation over the mean.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

PERCENTILES = (90, 95, 99)


def percentile(sorted_times: Sequence[float], p: float) -> float:
    """Nearest-rank percentile ``p`` (0..100) of ascending ``sorted_times`` (trtexec's rule)."""
    count = len(sorted_times)
    if count == 0:
        raise ValueError("percentile of no samples")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile must lie in 0..100, got {p}")
    exclude = int((1.0 - p / 100.0) * count)
    return float(sorted_times[max(count - 1 - exclude, 0)])


def median(sorted_times: Sequence[float]) -> float:
    """Middle value of ascending ``sorted_times``; the mean of the two middle ones if even."""
    count = len(sorted_times)
    if count == 0:
        raise ValueError("median of no samples")
    middle = count // 2
    if count % 2:
        return float(sorted_times[middle])
    return (float(sorted_times[middle - 1]) + float(sorted_times[middle])) / 2.0


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one case's per-iteration times, in milliseconds."""

    median_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    std_ms: float
    cv: float
    iterations: int
    total_s: float
    throughput_per_s: float  # images per second: batch * iterations / total time

    def to_json(self) -> dict:
        return asdict(self)


def summarize(times_ms: Sequence[float], batch: int = 1) -> LatencyStats:
    """Statistics of ``times_ms`` (one entry per iteration, each covering ``batch`` images)."""
    ordered = sorted(float(t) for t in times_ms)
    count = len(ordered)
    if count == 0:
        raise ValueError("no timing samples to summarize")
    mean = math.fsum(ordered) / count
    std = math.sqrt(math.fsum((t - mean) ** 2 for t in ordered) / count)
    total_ms = math.fsum(ordered)
    return LatencyStats(
        median_ms=median(ordered), p90_ms=percentile(ordered, 90),
        p95_ms=percentile(ordered, 95), p99_ms=percentile(ordered, 99), mean_ms=mean,
        min_ms=ordered[0], max_ms=ordered[-1], std_ms=std, cv=std / mean if mean > 0 else 0.0,
        iterations=count, total_s=total_ms / 1000.0,
        throughput_per_s=batch * count * 1000.0 / total_ms if total_ms > 0 else 0.0)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
