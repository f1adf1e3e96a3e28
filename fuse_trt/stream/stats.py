"""What a stream did: frame counts, drops, per-stage times and frame rate, as JSON.

Every input frame ends up in exactly one place, so a finished stream satisfies
``frames_out == frames_in - drops`` where ``drops`` is the sum of decode failures, frames
dropped because a live source outran the pipeline, and frames discarded by an abort.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fuse_trt.engine.images import write_bytes_atomic

STAGES = ("decode", "detect", "fuse", "encode")
COUNTERS = (
    "frames_in",  # frames the source delivered or failed to decode
    "frames_out",  # frames handed to the sink
    "decode_failures",  # frames skipped because they did not decode
    "late_drops",  # live frames dropped while the pipeline was busy
    "abort_drops",  # frames in flight discarded by a second stop request
    "no_face_frames",  # passed through unchanged: no (selected) face
    "profile_faces",  # faces skipped because they look like a profile
    "profile_only_frames",  # passed through unchanged: every selected face was a profile
    "fused_frames",
    "faces_fused",
    "fuse_errors",  # passed through unchanged: the fusion refused the face (logged)
    "detections",  # frames on which the detector ran
    "tracked_frames",  # frames whose faces came from optical-flow tracking
)


@dataclass(frozen=True)
class StageTime:
    frames: int = 0
    total_s: float = 0.0
    max_s: float = 0.0

    @property
    def mean_ms(self) -> float:
        return 1000.0 * self.total_s / self.frames if self.frames else 0.0

    def add(self, seconds: float) -> StageTime:
        return StageTime(self.frames + 1, self.total_s + seconds, max(self.max_s, seconds))

    def to_dict(self) -> dict:
        return {"frames": self.frames, "mean_ms": round(self.mean_ms, 3),
                "max_ms": round(1000.0 * self.max_s, 3), "total_s": round(self.total_s, 4)}


@dataclass(frozen=True)
class StreamStats:
    """A snapshot of a stream's statistics; ``to_dict`` is the JSON layout."""

    counts: dict[str, int]
    stages: dict[str, StageTime]
    wall_s: float
    first_out_s: float | None  # seconds from start to the first frame written
    last_out_s: float | None
    interrupted: bool = False
    info: dict = field(default_factory=dict)  # source, output, size, source fps, settings

    @property
    def drops(self) -> int:
        counts = self.counts
        return counts["decode_failures"] + counts["late_drops"] + counts["abort_drops"]

    @property
    def fps(self) -> float:
        """Frames written per second of wall time, start-up and drain included."""
        return self.counts["frames_out"] / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def sustained_fps(self) -> float:
        """Frames per second between the first and the last frame written (pipeline full)."""
        frames = self.counts["frames_out"]
        if frames < 2 or self.first_out_s is None or self.last_out_s <= self.first_out_s:
            return self.fps
        return (frames - 1) / (self.last_out_s - self.first_out_s)

    def to_dict(self) -> dict:
        return {**self.info, **self.counts, "drops": self.drops,
                "wall_s": round(self.wall_s, 3), "fps": round(self.fps, 3),
                "sustained_fps": round(self.sustained_fps, 3), "interrupted": self.interrupted,
                "stages": {name: time_.to_dict() for name, time_ in self.stages.items()}}

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        write_bytes_atomic(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode())
        return path


class StatsRecorder:
    """Thread-safe counters and stage timers that the pipeline stages update."""

    def __init__(self, info: dict | None = None):
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._stages = {name: StageTime() for name in STAGES}
        self._start = time.perf_counter()
        self._first_out: float | None = None
        self._last_out: float | None = None
        self._end: float | None = None
        self.interrupted = False
        self.info = dict(info or {})

    def start(self) -> None:
        """Restart the clock: the wall time counts from here (the pipeline's first frame)."""
        self._start = time.perf_counter()

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def timed(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._stages[stage] = self._stages[stage].add(seconds)

    def frame_written(self) -> None:
        now = time.perf_counter() - self._start
        with self._lock:
            self._counts["frames_out"] += 1
            self._first_out = now if self._first_out is None else self._first_out
            self._last_out = now

    def finish(self) -> None:
        self._end = time.perf_counter()

    def snapshot(self) -> StreamStats:
        end = self._end if self._end is not None else time.perf_counter()
        with self._lock:
            return StreamStats(counts=dict(self._counts), stages=dict(self._stages),
                               wall_s=end - self._start, first_out_s=self._first_out,
                               last_out_s=self._last_out, interrupted=self.interrupted,
                               info=dict(self.info))


def summary_lines(stats: StreamStats) -> list[str]:
    """The end-of-stream report the CLI prints."""
    c = stats.counts
    stages = ", ".join(f"{name} {t.mean_ms:.1f}" for name, t in stats.stages.items())
    return [
        f"{c['frames_out']} frames written in {stats.wall_s:.1f} s: {stats.fps:.2f} fps "
        f"({stats.sustained_fps:.2f} sustained); input {c['frames_in']}, dropped {stats.drops} "
        f"(decode {c['decode_failures']}, late {c['late_drops']}, abort {c['abort_drops']})",
        f"fused {c['fused_frames']} frames ({c['faces_fused']} faces); unchanged: no face "
        f"{c['no_face_frames']}, profile {c['profile_only_frames']} "
        f"({c['profile_faces']} profile faces skipped), refused {c['fuse_errors']}; "
        f"detector ran on {c['detections']}, tracked {c['tracked_frames']}",
        f"ms per frame: {stages}",
    ]
