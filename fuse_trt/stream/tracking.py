"""Faces across frames: detect every N frames, follow the landmarks with optical flow in
between, and smooth them so the fused face does not jitter.

Smoothing is a One Euro filter (Casiez, Roussel and Vogel, CHI 2012) per face: an exponential
moving average whose cutoff frequency rises with speed, ``cutoff = min_cutoff + beta * speed``,
so a still face is smoothed hard (little jitter) and a moving one lightly (little lag). Here
one speed, the mean landmark speed in face widths per second, drives all seven points of a
face (five landmarks and two box corners), so the face's shape moves as one piece and the
parameters do not depend on the resolution. Time is video time (frame index / fps), not wall
time, so the filter behaves the same however fast the frames are processed.

Between detections the five landmarks are moved with pyramidal Lucas-Kanade flow
(``cv2.calcOpticalFlowPyrLK``) and the box follows the similarity transform fitted to them. A
point whose forward-backward flow error is large ends tracking: the detector runs on that
frame instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from fuse_trt.engine.faces import Face, FaceDetector, similarity_transform
from fuse_trt.engine.faces.align import transform_points
from fuse_trt.engine.errors import NoFaceError


@dataclass(frozen=True)
class SmoothingConfig:
    enabled: bool = True
    min_cutoff_hz: float = 1.0  # cutoff for a still face: lower is smoother
    beta: float = 3.0  # cutoff added per face width per second of motion: higher lags less
    d_cutoff_hz: float = 1.0  # cutoff of the speed estimate itself

    def __post_init__(self) -> None:
        if self.min_cutoff_hz <= 0 or self.d_cutoff_hz <= 0 or self.beta < 0:
            raise ValueError("cutoffs must be positive and beta non-negative")


@dataclass(frozen=True)
class TrackerConfig:
    every: int = 1  # run the detector on every N-th frame, track landmarks in between
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    match_distance: float = 0.5  # same face if box centres are closer, in face widths
    max_flow_error: float = 0.05  # forward-backward error, in inter-ocular distances
    flow_window: int = 21
    flow_levels: int = 3


def _alpha(cutoff_hz: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter over an (N, 2) point set that moves as one piece."""

    def __init__(self, config: SmoothingConfig):
        self.config = config
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def __call__(self, points: np.ndarray, dt: float, scale: float) -> np.ndarray:
        """Filter ``points`` taken ``dt`` seconds after the last call; ``scale``: face width."""
        points = np.asarray(points, dtype=np.float64)
        if self._value is None or dt <= 0.0:
            self._value, self._speed = points, np.zeros_like(points)
            return points.astype(np.float32)
        a_d = _alpha(self.config.d_cutoff_hz, dt)
        self._speed = a_d * (points - self._value) / dt + (1.0 - a_d) * self._speed
        speed = float(np.linalg.norm(self._speed, axis=1).mean()) / max(scale, 1.0)
        a = _alpha(self.config.min_cutoff_hz + self.config.beta * speed, dt)
        self._value = a * points + (1.0 - a) * self._value
        return self._value.astype(np.float32)


def _face_points(face: Face) -> np.ndarray:
    x, y, w, h = face.box
    return np.vstack([face.landmarks, [[x, y], [x + w, y + h]]]).astype(np.float32)


def _points_face(points: np.ndarray, score: float, track: int | None = None) -> Face:
    (x0, y0), (x1, y1) = points[5], points[6]
    return Face((float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
                np.ascontiguousarray(points[:5], dtype=np.float32), score, track)


def _eye_distance(landmarks: np.ndarray) -> float:
    return max(float(np.linalg.norm(landmarks[0] - landmarks[1])), 1.0)


class _Track:
    """One face followed across frames: the measured points and their filtered version."""

    def __init__(self, face: Face, index: int, smoothing: SmoothingConfig, track_id: int = 0):
        self.track_id = track_id  # unique within one tracker, never reused
        self.raw = _face_points(face)
        self.score = face.score
        self.index = index
        self.filter = OneEuroFilter(smoothing) if smoothing.enabled else None
        self.smoothed = self._filter(0.0)

    @property
    def centre(self) -> np.ndarray:
        return (self.raw[5] + self.raw[6]) / 2.0

    @property
    def width(self) -> float:
        return max(float(self.raw[6, 0] - self.raw[5, 0]), 1.0)

    def _filter(self, dt: float) -> np.ndarray:
        if self.filter is None:
            return self.raw
        return self.filter(self.raw, dt, self.width)

    def measure(self, points: np.ndarray, index: int, fps: float,
                score: float | None = None) -> None:
        dt = (index - self.index) / fps
        self.raw, self.index = points.astype(np.float32), index
        self.score = self.score if score is None else score
        self.smoothed = self._filter(dt)

    def face(self) -> Face:
        return _points_face(self.smoothed, self.score, self.track_id)


class FaceTracker:
    """Faces per frame, largest first: detected, or tracked from the previous frame.

    One tracker per stream and thread (it holds the previous frame and a detector).
    """

    def __init__(self, detector: FaceDetector, config: TrackerConfig = TrackerConfig(),
                 fps: float = 30.0):
        if config.every < 1:
            raise ValueError(f"every must be >= 1, got {config.every}")
        self.detector = detector
        self.config = config
        self.fps = float(fps)
        self._tracks: list[_Track] = []
        self._previous: np.ndarray | None = None  # grey frame, kept only when tracking
        self._last_detection = -(10 ** 9)
        self._next_track_id = 0

    def update(self, frame: np.ndarray, index: int) -> tuple[list[Face], bool]:
        """The faces in ``frame`` (the ``index``-th of the stream) and whether it was detected."""
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if self.config.every > 1 else None
        due = index - self._last_detection >= self.config.every
        detected = due or not self._tracks or not self._follow(grey, index)
        if detected:
            self._detect(frame, index)
        self._previous = grey
        faces = [track.face() for track in self._tracks]
        return sorted(faces, key=lambda face: face.area, reverse=True), detected

    def _detect(self, frame: np.ndarray, index: int) -> None:
        self._last_detection = index
        unmatched = list(self._tracks)
        tracks = []
        for face in self.detector.detect(frame):
            track = self._match(face, unmatched)
            if track is None:
                self._next_track_id += 1
                track = _Track(face, index, self.config.smoothing, self._next_track_id)
            else:
                unmatched.remove(track)
                track.measure(_face_points(face), index, self.fps, face.score)
            tracks.append(track)
        self._tracks = tracks

    def _match(self, face: Face, tracks: list[_Track]) -> _Track | None:
        x, y, w, h = face.box
        centre = np.float32([x + w / 2.0, y + h / 2.0])
        best, best_distance = None, math.inf
        for track in tracks:
            distance = float(np.linalg.norm(track.centre - centre)) / track.width
            if distance < min(best_distance, self.config.match_distance):
                best, best_distance = track, distance
        return best

    def _follow(self, grey: np.ndarray, index: int) -> bool:
        """Move every track's landmarks by optical flow; False if any point is lost."""
        if self._previous is None or self._previous.shape != grey.shape:
            return False
        points = np.concatenate([track.raw[:5] for track in self._tracks]).reshape(-1, 1, 2)
        moved = self._flow(self._previous, grey, points)
        if moved is None:
            return False
        for track, landmarks in zip(self._tracks, np.split(moved, len(self._tracks))):
            if not self._move(track, landmarks, index):
                return False
        return True

    def _flow(self, previous: np.ndarray, grey: np.ndarray,
              points: np.ndarray) -> np.ndarray | None:
        size = (self.config.flow_window, self.config.flow_window)
        levels = self.config.flow_levels
        forward, found, _ = cv2.calcOpticalFlowPyrLK(previous, grey, points, None,
                                                     winSize=size, maxLevel=levels)
        if forward is None or not found.all():
            return None
        back, found_back, _ = cv2.calcOpticalFlowPyrLK(grey, previous, forward, None,
                                                       winSize=size, maxLevel=levels)
        if back is None or not found_back.all():
            return None
        error = np.linalg.norm((back - points).reshape(-1, 5, 2), axis=2)
        limits = [self.config.max_flow_error * _eye_distance(track.raw[:5])
                  for track in self._tracks]
        if (error > np.float32(limits)[:, None]).any():
            return None
        return forward.reshape(-1, 2)

    def _move(self, track: _Track, landmarks: np.ndarray, index: int) -> bool:
        try:
            matrix = similarity_transform(track.raw[:5], landmarks)
        except NoFaceError:
            return False
        corners = transform_points(matrix, track.raw[5:]).astype(np.float32)
        track.measure(np.vstack([landmarks, corners]), index, self.fps)
        return True
