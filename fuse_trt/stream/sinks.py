"""Where frames go: a video file whose codec follows its extension, or nowhere (``-``).

A video is written to a hidden temp file next to the output (same extension, so OpenCV picks
the same container) and renamed over the output by :meth:`VideoSink.close`, which also
finalises the container; the pipeline calls it on every exit path, Ctrl-C and SIGTERM
included, so an interrupted stream still leaves a playable file and never a half-written one
under the output's name.

OpenCV's writer reports nothing when a write fails (it logs, at most), so the sink checks for
itself: free space on the output's file system before every frame, and at close a read-back
of the finished file (its frame count and its last frame). A sink that fails either check
removes the temp file and raises; the output, if it existed, is left as it was.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from fuse_trt.engine.errors import FuseTrtError
from fuse_trt.engine.files import check_writable_directory

log = logging.getLogger("fuse_trt")

MIN_FREE_BYTES = 64 << 10  # never start a frame with less free space than this

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

    def discard(self) -> None:
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
    check_writable_directory(path.parent, path)
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
        self._check_free_space()
        self._writer.write(frame if bgr else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def _check_free_space(self) -> None:
        """At least twice the mean encoded frame so far (and MIN_FREE_BYTES) must be free."""
        written = self.temp_path.stat().st_size if self.temp_path.exists() else 0
        needed = max(MIN_FREE_BYTES, 2 * written // max(1, self.frames))
        free = shutil.disk_usage(self.temp_path.parent).free
        if free < needed:
            self._fail(f"the disk is full ({free >> 10} KiB free) after {self.frames} frames")

    def _fail(self, reason: str) -> None:
        self.discard()
        raise FuseTrtError(f"{self.path}: {reason}; nothing was written there")

    def discard(self) -> None:
        """Drop the unfinished video (after an error); ``path`` is left as it was."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self.temp_path.unlink(missing_ok=True)

    def close(self) -> None:
        """Finalise the container, read it back and move it to ``path``; idempotent."""
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        readable = readable_frames(self.temp_path)
        if readable != self.frames:
            self._fail(f"the finished video holds {readable} readable frames of "
                       f"{self.frames} written (disk full or write error)")
        try:
            os.replace(self.temp_path, self.path)
        except OSError as error:
            raise FuseTrtError(f"{self.path}: cannot move the finished video there "
                               f"({error.strerror}); it is at {self.temp_path}") from error
        log.info("wrote %s (%d frames)", self.path, self.frames)


def readable_frames(path: Path) -> int:
    """The frame count ``path``'s container declares, or 0 when it cannot be opened or its
    last frame does not decode."""
    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if capture.isOpened() else 0
        if count <= 0:
            return 0
        capture.set(cv2.CAP_PROP_POS_FRAMES, count - 1)
        ok, _ = capture.read()
        return count if ok else 0
    finally:
        capture.release()


def open_sink(output: str | Path, fps: float) -> NullSink:
    """``-`` gives a :class:`NullSink`; anything else a :class:`VideoSink`."""
    if str(output) == NO_OUTPUT:
        return NullSink()
    return VideoSink(output, fps)
