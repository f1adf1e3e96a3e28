"""decode -> detect -> fuse -> encode, one thread per stage joined by bounded queues, so that
decoding and encoding overlap inference (OpenCV and ONNX Runtime release the GIL).

Every input frame is accounted for: written, or counted as a drop (failed decode, late on a
live source, discarded by an abort). A first stop request (Ctrl-C, SIGTERM,
:meth:`Pipeline.request_stop`) stops reading and lets the frames in flight finish; a second
one discards them. Either way the sink is closed, so the output is finalised.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fuse_trt.engine.choices import FaceChoice, values
from fuse_trt.engine.faces import PROFILE_YAW_THRESHOLD, Face, FaceDetector, yaw_ratio
from fuse_trt.engine.faces.assignment import TrackAssignment
from fuse_trt.engine.errors import FuseTrtError
from fuse_trt.stream.sinks import NullSink
from fuse_trt.stream.sources import VideoSource
from fuse_trt.stream.stats import StatsRecorder, StreamStats
from fuse_trt.stream.tracking import FaceTracker, TrackerConfig

if TYPE_CHECKING:
    from fuse_trt.api import FaceFusion

log = logging.getLogger("fuse_trt")

_END = object()  # end-of-stream marker passed down the queues
_POLL_S = 0.1


@dataclass(frozen=True)
class StreamConfig:
    face: str = "largest"  # "largest", "all" or an index (largest first)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    max_frames: int | None = None  # input frames to read, decode failures included
    queue_size: int = 4  # frames waiting between two stages
    drop_late: bool | None = None  # None: drop frames of live sources while busy, never a file's
    skip_profiles: bool = True  # faces with yaw_ratio > PROFILE_YAW_THRESHOLD are not fused

    def __post_init__(self) -> None:
        if self.face not in values(FaceChoice) and not str(self.face).isdigit():
            raise FuseTrtError(f"face must be largest, all or an index, got {self.face!r}")
        if self.tracker.every < 1:
            raise FuseTrtError(f"every must be at least 1, got {self.tracker.every}")
        if self.max_frames is not None and self.max_frames < 1:
            raise FuseTrtError(f"max_frames must be at least 1, got {self.max_frames}")


@dataclass
class _Frame:
    index: int
    image: np.ndarray
    faces: list[Face] = field(default_factory=list)


def select_faces(faces: list[Face], choice: str) -> list[Face]:
    """``faces`` is largest first; an index past the end selects nothing."""
    if choice == FaceChoice.ALL:
        return list(faces)
    index = 0 if choice == FaceChoice.LARGEST else int(choice)
    return faces[index:index + 1]


def _describe(source: VideoSource, sink: NullSink) -> dict:
    info = source.info
    return {"source": info.name, "source_kind": info.kind, "width": info.width,
            "height": info.height, "source_fps": info.fps, "output": str(sink.path or "-")}


class Pipeline:
    """Runs one stream; ``fusion`` must be prepared, have a source set and use ``face="all"``
    (the stream chooses faces itself, after tracking). :meth:`run` closes ``sink``."""

    def __init__(self, fusion: FaceFusion, source: VideoSource, sink: NullSink,
                 config: StreamConfig = StreamConfig()):
        if fusion.config.face != FaceChoice.ALL:
            raise FuseTrtError("a stream needs FaceFusion(FusionConfig(face='all')); "
                               "choose faces with StreamConfig.face")
        self.fusion, self.source, self.sink, self.config = fusion, source, sink, config
        self.tracker = FaceTracker(FaceDetector(fusion.config.detector), config.tracker,
                                   source.info.fps)
        self._drop_late = source.info.live if config.drop_late is None else config.drop_late
        mapping = fusion.mapping
        self.assignment = None if mapping is None else TrackAssignment(mapping.references,
                                                                       mapping.threshold)
        self.last_assignment: dict[int, int] = {}  # track id -> source index, latest frame
        self.stats = StatsRecorder(_describe(source, sink))
        self._queues = [queue.Queue(maxsize=max(1, config.queue_size)) for _ in range(3)]
        self._stop, self._abort = threading.Event(), threading.Event()
        self._error: BaseException | None = None

    # -- control ---------------------------------------------------------------------
    def request_stop(self) -> None:
        """First call: stop reading, finish the frames in flight. Second: discard them."""
        self.stats.interrupted = True
        if self._stop.is_set():
            self._abort.set()
        self._stop.set()

    def run(self, progress: Callable[[StreamStats], None] | None = None,
            interval_s: float = 0.5) -> StreamStats:
        threads = [threading.Thread(target=self._guard, args=(target, outbox), name=name,
                                    daemon=True)
                   for name, target, outbox in self._stage_plan()]
        self.stats.start()
        for thread in threads:
            thread.start()
        try:
            self._wait(threads, progress, interval_s)
        finally:
            self._abort_if_unwinding(threads)
            self._count_leftovers()
            self.sink.close()
            self.stats.finish()
        if self._error is not None:
            raise self._error
        return self.stats.snapshot()

    def _stage_plan(self) -> list[tuple[str, Callable[[], None], queue.Queue | None]]:
        decode_q, detect_q, fuse_q = self._queues
        return [("decode", self._decode_stage, decode_q),
                ("detect", lambda: self._work_stage(decode_q, detect_q, self._detect), detect_q),
                ("fuse", lambda: self._work_stage(detect_q, fuse_q, self._fuse), fuse_q),
                ("encode", lambda: self._work_stage(fuse_q, None, self._encode), None)]

    def _wait(self, threads: list[threading.Thread],
              progress: Callable[[StreamStats], None] | None, interval_s: float) -> None:
        while any(thread.is_alive() for thread in threads):
            try:
                threads[-1].join(interval_s)
                if progress is not None:
                    progress(self.stats.snapshot())
            except KeyboardInterrupt:
                self.request_stop()

    def _abort_if_unwinding(self, threads: list[threading.Thread]) -> None:
        if any(thread.is_alive() for thread in threads):
            self._abort.set()
        for thread in threads:
            thread.join()

    def _count_leftovers(self) -> None:
        for inbox in self._queues:
            while not inbox.empty():
                if isinstance(inbox.get_nowait(), _Frame):
                    self.stats.count("abort_drops")

    # -- plumbing --------------------------------------------------------------------
    def _guard(self, target: Callable[[], None], outbox: queue.Queue | None) -> None:
        try:
            target()
        except BaseException as error:  # re-raised by run() in the calling thread
            if self._error is None:
                self._error = error
            self._abort.set()
        if outbox is not None:
            self._put(outbox, _END)

    def _get(self, inbox: queue.Queue) -> object:
        while True:
            try:
                return inbox.get(timeout=_POLL_S)
            except queue.Empty:
                if self._abort.is_set():
                    return _END

    def _put(self, outbox: queue.Queue, item: object) -> None:
        while True:
            try:
                outbox.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                if self._abort.is_set():
                    if isinstance(item, _Frame):
                        self.stats.count("abort_drops")
                    return

    def _work_stage(self, inbox: queue.Queue, outbox: queue.Queue | None,
                    work: Callable[[_Frame], _Frame]) -> None:
        while (item := self._get(inbox)) is not _END:
            if self._abort.is_set():
                self.stats.count("abort_drops")
                continue
            result = work(item)
            if outbox is not None:
                self._put(outbox, result)

    # -- stages ----------------------------------------------------------------------
    def _timed_frames(self) -> Iterator[np.ndarray | None]:
        frames = self.source.frames()
        while True:
            start = time.perf_counter()
            frame = next(frames, _END)
            if frame is _END:
                return
            self.stats.timed("decode", time.perf_counter() - start)
            yield frame

    def _decode_stage(self) -> None:
        outbox, index = self._queues[0], 0
        for image in self._timed_frames():
            self.stats.count("frames_in")
            if image is None:
                self.stats.count("decode_failures")
            else:
                self._hand_over(outbox, _Frame(index, image))
            index += 1
            if self._stop.is_set() or index == self.config.max_frames:
                return

    def _hand_over(self, outbox: queue.Queue, item: _Frame) -> None:
        if not self._drop_late:
            self._put(outbox, item)
            return
        try:
            outbox.put_nowait(item)
        except queue.Full:
            self.stats.count("late_drops")

    def _detect(self, item: _Frame) -> _Frame:
        start = time.perf_counter()
        item.faces, detected = self.tracker.update(item.image, item.index)
        self.stats.timed("detect", time.perf_counter() - start)
        self.stats.count("detections" if detected else "tracked_frames")
        return item

    def _fuse(self, item: _Frame) -> _Frame:
        start = time.perf_counter()
        # With a mapping every face is a candidate: the references choose, not --face.
        chosen = item.faces if self.assignment else select_faces(item.faces, self.config.face)
        frontal = [face for face in chosen if not self._is_profile(face)]
        self.stats.count("profile_faces", len(chosen) - len(frontal))
        if not chosen:
            self.stats.count("no_face_frames")
        elif not frontal:
            self.stats.count("profile_only_frames")
        else:
            item.image = self._fuse_faces(item, frontal)
        self.stats.timed("fuse", time.perf_counter() - start)
        return item

    def _is_profile(self, face: Face) -> bool:
        return self.config.skip_profiles and yaw_ratio(face.landmarks) > PROFILE_YAW_THRESHOLD

    def _assign(self, item: _Frame, faces: list[Face]) -> list[tuple[Face, int]]:
        """(face, source) per tracked face; a track keeps its source while it lives."""
        by_track = {face.track: face for face in faces}
        held = self.assignment.update(list(by_track), lambda track: self.fusion.embed_face(
            item.image, by_track[track]))
        if held != self.last_assignment:
            log.info("frame %d: track -> source %s", item.index, held)
        self.last_assignment = held
        return [(by_track[track], source) for track, source in held.items()]

    def _fuse_faces(self, item: _Frame, faces: list[Face]) -> np.ndarray:
        try:
            assigned = self._assign(item, faces) if self.assignment else None
            fused = self.fusion.fuse(item.image, faces=faces, require_face=False,
                                     assigned=assigned)
        except (FuseTrtError, cv2.error) as error:  # one odd frame must not end a camera feed
            log.warning("frame %d left unchanged: %s", item.index, error)
            self.stats.count("fuse_errors")
            return item.image
        self.stats.count("fused_frames")
        self.stats.count("faces_fused", len(faces if assigned is None else assigned))
        return fused

    def _encode(self, item: _Frame) -> _Frame:
        start = time.perf_counter()
        self.sink.write(item.image)
        self.stats.timed("encode", time.perf_counter() - start)
        self.stats.frame_written()
        return item
