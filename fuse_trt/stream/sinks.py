"""Where frames go: a video file whose codec follows its extension, or nowhere (``-``).

A video is written to a hidden temp file next to the output (same extension, so OpenCV picks
the same container) and renamed over the output by :meth:`VideoSink.close`, which also
finalises the container; the pipeline calls it on every exit path, Ctrl-C and SIGTERM
included, so an interrupted stream still leaves a playable file and never a half-written one
under the output's name.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from fuse_trt.engine.errors import FuseTrtError

log = logging.getLogger("fuse_trt")

# FourCCs the pip OpenCV wheels can encode (no H.264 encoder ships in them).
CODECS: dict[str, str] = {
    ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v",
    ".avi": "MJPG", ".mkv": "XVID", ".webm": "VP80",
}
NO_OUTPUT = "-"


class NullSink:
    """Counts frames and writes nothing (``-o -``): for benchmarks and previews."""

    path: Path | None = None

    def __init__(self) -> None:
        self.frames = 0

    def write(self, frame: np.ndarray, bgr: bool = False) -> None:
        self.frames += 1

    def close(self) -> None:
        return None

    def __enter__(self) -> NullSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def check_output_path(path: Path) -> str:
    """The FourCC for ``path``; raises :class:`FuseTrtError` for an unusable path."""
    suffix = path.suffix.lower()
    if suffix not in CODECS:
        raise FuseTrtError(f"{path}: cannot write videos of type {suffix or '(no extension)'!r}; "
                           f"use one of {', '.join(CODECS)} or - for no output")
    if path.is_dir():
        raise FuseTrtError(f"{path}: is a directory; give an output file name such as out.mp4")
    if not path.parent.is_dir():
        raise FuseTrtError(f"{path}: output directory {path.parent} does not exist")
    return CODECS[suffix]


class VideoSink(NullSink):
    """RGB (or, with ``write(..., bgr=True)``, BGR) frames -> a video file; opened at the first
    frame, whose size it keeps."""

    def __init__(self, path: str | Path, fps: float):
        super().__init__()
        self.path = Path(path)
        self.fourcc = check_output_path(self.path)
        self.fps = float(fps)
        self.temp_path = self.path.with_name(f".{self.path.stem}.{os.getpid()}.partial"
                                             f"{self.path.suffix}")
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def _open(self, width: int, height: int) -> None:
        writer = cv2.VideoWriter(str(self.temp_path), cv2.VideoWriter_fourcc(*self.fourcc),
                                 self.fps, (width, height))
        if not writer.isOpened():
            writer.release()
            self.temp_path.unlink(missing_ok=True)
            raise FuseTrtError(f"{self.path}: OpenCV cannot encode {self.fourcc} video here")
        self._writer, self._size = writer, (width, height)

    def write(self, frame: np.ndarray, bgr: bool = False) -> None:
        height, width = frame.shape[:2]
        if self._writer is None:
            self._open(width, height)
        if (width, height) != self._size:
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame if bgr else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        """Finalise the container and move it to ``path``; idempotent."""
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        try:
            os.replace(self.temp_path, self.path)
        except OSError as error:
            raise FuseTrtError(f"{self.path}: cannot move the finished video there "
                               f"({error.strerror}); it is at {self.temp_path}") from error
        log.info("wrote %s (%d frames)", self.path, self.frames)


def open_sink(output: str | Path, fps: float) -> NullSink:
    """``-`` gives a :class:`NullSink`; anything else a :class:`VideoSink`."""
    if str(output) == NO_OUTPUT:
        return NullSink()
    return VideoSink(output, fps)
