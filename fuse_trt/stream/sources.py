"""Where frames come from: a video file, a camera index or any OpenCV capture string
(a GStreamer pipeline on Jetson, an RTSP URL).

Frames come out as RGB uint8, the package's one colour convention, or as decoded (BGR) when
asked: the stream pipeline keeps OpenCV's order end to end and converts only face regions. A
frame that fails to
decode is reported as ``None`` and the stream goes on. OpenCV answers a failed decode and the
end of a stream the same way (``grab()`` returns False), so a failed read is only reported as
a decode failure once a later read succeeds; ``max_read_failures`` failures in a row end the
stream. A file that ends before the frame count its container declares is reported by
:meth:`VideoSource.short_read` (a corrupt tail cannot be told from the end otherwise).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from fuse_trt.engine.errors import FuseTrtError

log = logging.getLogger("fuse_trt")

DEFAULT_FPS = 30.0
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts")


@dataclass(frozen=True)
class SourceInfo:
    name: str
    kind: str  # "file", "camera" or "capture"
    width: int
    height: int
    fps: float  # as reported, or DEFAULT_FPS when the source reports none
    frame_count: int | None  # as the container reports it; None when unknown

    @property
    def live(self) -> bool:
        """Cameras and capture strings produce frames whether or not we keep up."""
        return self.kind != "file"


def _capture_kind(spec: str) -> str:
    path = Path(spec)
    if path.is_dir():
        raise FuseTrtError(f"{spec}: is a directory, expected a video file, camera or pipeline")
    if path.is_file():
        return "file"
    if spec.isdigit():
        return "camera"
    if path.suffix.lower() in VIDEO_SUFFIXES and "://" not in spec and "!" not in spec:
        raise FuseTrtError(f"{spec}: video file not found")
    return "capture"


def _open_capture(spec: str, kind: str) -> cv2.VideoCapture:
    if kind == "camera":
        return cv2.VideoCapture(int(spec))
    if kind == "capture" and "!" in spec:
        if not cv2.videoio_registry.hasBackend(cv2.CAP_GSTREAMER):
            raise FuseTrtError(f"{spec!r} looks like a GStreamer pipeline, but this OpenCV was "
                               "built without GStreamer (use the distribution's OpenCV on Jetson)")
        return cv2.VideoCapture(spec, cv2.CAP_GSTREAMER)
    return cv2.VideoCapture(spec)


def _describe(spec: str, kind: str, capture: cv2.VideoCapture) -> SourceInfo:
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return SourceInfo(name=spec, kind=kind,
                      width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                      height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                      fps=fps if 0.0 < fps < 1000.0 else DEFAULT_FPS,
                      frame_count=count if kind == "file" and count > 0 else None)


class VideoSource:
    """An opened capture; iterate :meth:`frames` for RGB (or BGR) frames (``None``: failed
    decode)."""

    def __init__(self, spec: str | int, max_read_failures: int = 30):
        spec = str(spec)
        kind = _capture_kind(spec)
        capture = _open_capture(spec, kind)
        if not capture.isOpened():
            capture.release()
            raise FuseTrtError(f"cannot open {kind} {spec!r} for reading")
        self.info = _describe(spec, kind, capture)
        self.max_read_failures = max(1, int(max_read_failures))
        self._capture: cv2.VideoCapture | None = capture
        self.frames_read = 0  # positions delivered, failed decodes included
        self.reached_end = False  # reads stopped failing for good (end of stream or corruption)

    def _read(self) -> np.ndarray | None:
        if not self._capture.grab():
            return None
        ok, bgr = self._capture.retrieve()
        return bgr if ok and bgr is not None and bgr.size else None

    def frames(self, bgr: bool = False) -> Iterator[np.ndarray | None]:
        pending = 0
        while self._capture is not None:
            decoded = self._read()
            if decoded is None:
                pending += 1
                if pending >= self.max_read_failures:
                    log.debug("%s: end of stream after %d failed reads", self.info.name, pending)
                    self.reached_end = True
                    return
                continue
            if pending:
                log.warning("%s: %d frame(s) failed to decode; skipped", self.info.name, pending)
            for _ in range(pending):
                self.frames_read += 1
                yield None
            pending = 0
            self.frames_read += 1
            yield decoded if bgr else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)

    def short_read(self) -> str | None:
        """What went missing when a file ended before its declared frame count, else None."""
        declared = self.info.frame_count
        if not self.reached_end or declared is None or self.frames_read >= declared:
            return None
        return (f"{self.info.name}: reading stopped after {self.frames_read} of the {declared} "
                f"frames the container declares (corrupt or truncated from frame "
                f"{self.frames_read + 1})")

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
