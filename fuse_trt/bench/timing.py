"""Interleaved timing: every case runs in every round, so machine noise hits all alike.

A round gives each case a time slice (at least one iteration) and visits the cases in the
order of a Williams design, so over a cycle of rounds every case runs right after every other
case equally often: a runtime whose worker threads keep spinning (or whose caches it left
warm) for a while after it returns slows, or speeds, all the others alike rather than always
the same successor. Each slice starts with ``slice_warmup_iters`` untimed iterations, so every
timed iteration follows one of its own runtime, as in a loop that runs one model: the
previous case's spinning workers and the wake-up from idle land on the untimed iteration.
Measurement stops when every case has at least ``min_iters`` iterations and
``duration_s`` of measured time.
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
    # untimed iterations that open each slice: a PyTorch iteration right after an ONNX
    # Runtime one with spinning workers, or after an idle pause, ran 5-8% slower than one
    # after its own (benchmarks/README.md)
    slice_warmup_iters: int = 1
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


def run_round(cases: Sequence[TimedCase], order: Sequence[int], slice_ms: float,
              slice_warmup_iters: int) -> None:
    for index in order:
        case = cases[index]
        for _ in range(slice_warmup_iters):
            case.once()
        spent = 0.0
        while True:
            elapsed = case.once()
            case.times_ms.append(elapsed)
            spent += elapsed
            if spent >= slice_ms:
                break


def balanced_order(count: int, round_index: int) -> list[int]:
    """The visiting order of round ``round_index``: row ``round_index`` of a Williams design.

    Row 0 is 0, 1, n-1, 2, n-2, ...; row r adds r to each (mod n). Over n rounds (2n for an
    odd n, the second n rows reversed) each case immediately follows each other case the same
    number of times, and holds each position as often."""
    if count == 0:
        return []
    first = [0]
    for step in range(1, count):
        first.append((step + 1) // 2 if step % 2 else count - step // 2)
    order = [(index + round_index) % count for index in first]
    return order[::-1] if count % 2 and (round_index // count) % 2 else order


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
        run_round(cases, balanced_order(len(cases), round_index), config.slice_ms,
                  config.slice_warmup_iters)
        if progress is not None:
            progress(min(_fraction_done(case, config) for case in cases))
        if all(case.done(config) for case in cases):
            break
    return {case.key: list(case.times_ms) for case in cases}


def _fraction_done(case: TimedCase, config: TimingConfig) -> float:
    by_iters = len(case.times_ms) / max(config.min_iters, 1)
    by_time = sum(case.times_ms) / max(config.duration_s * 1000.0, 1e-9)
    return min(1.0, by_iters, by_time)
