"""Interleaved timing: every case runs in every round, so machine noise hits all alike.

A round gives each case a time slice (at least one iteration) and visits the cases in a
rotated order, so no case always runs right after the same neighbour. Measurement stops when
every case has at least ``min_iters`` iterations and ``duration_s`` of measured time.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TimingConfig:
    warmup_ms: float = 500.0  # per case, before anything is recorded
    duration_s: float = 10.0  # measured time each case accumulates, at least
    min_iters: int = 10  # iterations each case records, at least
    slice_ms: float = 250.0  # time a case gets per round (at least one iteration)
    max_rounds: int = 100_000


@dataclass
class TimedCase:
    """One thing to time: ``run()`` does one iteration (its return value is ignored)."""

    key: Hashable
    run: Callable[[], object]
    times_ms: list[float] = field(default_factory=list)

    def once(self) -> float:
        start = time.perf_counter()
        self.run()
        return (time.perf_counter() - start) * 1000.0

    def done(self, config: TimingConfig) -> bool:
        return (len(self.times_ms) >= config.min_iters
                and sum(self.times_ms) >= config.duration_s * 1000.0)


def warm_up(case: TimedCase, warmup_ms: float) -> None:
    """At least one untimed iteration, then more until ``warmup_ms`` has passed."""
    spent = case.once()
    while spent < warmup_ms:
        spent += case.once()


def run_round(cases: Sequence[TimedCase], order: Sequence[int], slice_ms: float) -> None:
    for index in order:
        case = cases[index]
        spent = 0.0
        while True:
            elapsed = case.once()
            case.times_ms.append(elapsed)
            spent += elapsed
            if spent >= slice_ms:
                break


def rotated(count: int, round_index: int) -> list[int]:
    shift = round_index % count if count else 0
    return [(shift + offset) % count for offset in range(count)]


def run_interleaved(cases: Sequence[TimedCase], config: TimingConfig = TimingConfig(),
                    progress: Callable[[float], None] | None = None) -> dict[Hashable, list[float]]:
    """Warm every case up, then run rounds until all are done; times per key, in ms.

    ``progress`` is called after each round with the fraction done (0..1), judged by the case
    furthest from its target.
    """
    if not cases:
        return {}
    for case in cases:
        warm_up(case, config.warmup_ms)
    for round_index in range(config.max_rounds):
        run_round(cases, rotated(len(cases), round_index), config.slice_ms)
        if progress is not None:
            progress(min(_fraction_done(case, config) for case in cases))
        if all(case.done(config) for case in cases):
            break
    return {case.key: list(case.times_ms) for case in cases}


def _fraction_done(case: TimedCase, config: TimingConfig) -> float:
    by_iters = len(case.times_ms) / max(config.min_iters, 1)
    by_time = sum(case.times_ms) / max(config.duration_s * 1000.0, 1e-9)
    return min(1.0, by_iters, by_time)
