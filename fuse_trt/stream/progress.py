"""The live progress line: frames, fps over the last few seconds, per-stage ms and drops.

On a terminal one line is rewritten in place; otherwise (a log file) a line is appended every
``log_every_s`` seconds.
"""
from __future__ import annotations

import sys
import time
from collections import deque
from typing import TextIO

from fuse_trt.stream.stats import StreamStats

FPS_WINDOW_S = 3.0


def progress_text(stats: StreamStats, fps: float) -> str:
    c = stats.counts
    stages = " ".join(f"{name} {t.mean_ms:.0f}" for name, t in stats.stages.items())
    return (f"frame {c['frames_out']}/{c['frames_in']}  {fps:.1f} fps  ms: {stages}  "
            f"drops {stats.drops}  no-face {c['no_face_frames']}")


class ProgressLine:
    """A callable for :meth:`Pipeline.run`; call :meth:`close` to end the line."""

    def __init__(self, stream: TextIO = sys.stderr, tty: bool | None = None,
                 log_every_s: float = 5.0):
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.log_every_s = log_every_s
        self._samples: deque[tuple[float, int]] = deque()
        self._last_log = time.perf_counter()
        self._width = 0

    def _fps(self, frames: int) -> float:
        now = time.perf_counter()
        self._samples.append((now, frames))
        while now - self._samples[0][0] > FPS_WINDOW_S:
            self._samples.popleft()
        first_t, first_n = self._samples[0]
        elapsed = now - first_t
        return (frames - first_n) / elapsed if elapsed > 0 else 0.0

    def __call__(self, stats: StreamStats) -> None:
        text = progress_text(stats, self._fps(stats.counts["frames_out"]))
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        elif time.perf_counter() - self._last_log >= self.log_every_s:
            self._last_log = time.perf_counter()
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
