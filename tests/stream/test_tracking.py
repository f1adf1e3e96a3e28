"""Landmark smoothing and tracking: the One Euro filter, and jitter on a real panned video."""
from __future__ import annotations

import numpy as np
import pytest

from fuse_trt.engine.faces import FaceDetector
from fuse_trt.stream import (FaceTracker, OneEuroFilter, SmoothingConfig, TrackerConfig,
                             VideoSource)

PAN_FPS = 25.0
PAN_STEP = 1.0  # px per frame: a slow pan
WARM_UP = 5  # frames the filter needs to pick up the pan's speed
# Mean frame-to-frame landmark jump beyond the pan itself, on a 320x240 video whose face has
# an inter-ocular distance of about 25 px. YuNet alone measured 0.82 px (max 2.6).
MAX_SMOOTHED_JITTER_PX = 0.6
MAX_SMOOTHED_JUMP_PX = 2.0


def test_one_euro_filter_smooths_a_still_face_and_follows_a_moving_one():
    rng = np.random.default_rng(0)
    still = np.float64([[100, 100], [140, 100]])
    smoother = OneEuroFilter(SmoothingConfig())
    noisy = [still + rng.normal(0, 1.0, still.shape) for _ in range(100)]
    out = np.array([smoother(points, 1 / 30, scale=100) for points in noisy])
    assert out[20:].std(axis=0).mean() < 0.4  # input noise: 1 px

    moving = OneEuroFilter(SmoothingConfig())
    positions = [still + [3.0 * i, 0] for i in range(60)]  # 90 px/s, ~1 face width/s
    out = np.array([moving(points, 1 / 30, scale=100) for points in positions])
    assert np.abs(out[-1] - positions[-1]).max() < 6.0  # lag under 2 frames of motion


def test_disabled_smoothing_returns_the_measurements(detector, astronaut, kit):
    tracker = FaceTracker(detector, TrackerConfig(smoothing=SmoothingConfig(enabled=False)))
    frame = kit.pan(astronaut, 1)[0]
    faces, detected = tracker.update(frame, 0)
    np.testing.assert_allclose(faces[0].landmarks, detector.detect(frame)[0].landmarks)
    assert detected


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="module")
def pan_video(tmp_path_factory, astronaut, kit):
    frames = kit.pan(astronaut, 30, step=PAN_STEP)
    return kit.write_video(tmp_path_factory.mktemp("pan") / "pan.avi", frames, fps=PAN_FPS)


def landmark_jitter(path, detector, config: TrackerConfig) -> tuple[float, float, int]:
    """Mean and max frame-to-frame landmark jump once the known pan is taken out, in px,
    and how many frames ran the detector."""
    with VideoSource(path) as source:
        tracker = FaceTracker(detector, config, source.info.fps)
        results = [tracker.update(frame, i) for i, frame in enumerate(source.frames())]
    landmarks = np.array([faces[0].landmarks for faces, _ in results])
    pan = np.array([[-PAN_STEP * t, 0.0] for t in range(len(landmarks))])[:, None, :]
    residual = landmarks - pan
    jumps = np.linalg.norm(np.diff(residual, axis=0), axis=2)[WARM_UP:]
    return float(jumps.mean()), float(jumps.max()), sum(detected for _, detected in results)


def test_smoothing_keeps_landmark_jitter_below_the_bound(pan_video, detector):
    raw, raw_max, _ = landmark_jitter(pan_video, detector, TrackerConfig(
        smoothing=SmoothingConfig(enabled=False)))
    smooth, smooth_max, detections = landmark_jitter(pan_video, detector, TrackerConfig())
    assert detections == 30
    assert smooth < MAX_SMOOTHED_JITTER_PX and smooth_max < MAX_SMOOTHED_JUMP_PX
    assert smooth < 0.8 * raw and smooth_max < raw_max


def test_tracking_between_detections_stays_on_the_face(pan_video, detector):
    mean, biggest, detections = landmark_jitter(pan_video, detector, TrackerConfig(every=3))
    assert detections == 10  # frames 0, 3, 6, ...: optical flow on the others
    assert mean < MAX_SMOOTHED_JITTER_PX and biggest < MAX_SMOOTHED_JUMP_PX


def test_tracked_landmarks_follow_a_zoom(tmp_path, detector, astronaut, kit):
    frames = kit.zoom(astronaut, 6)
    path = kit.write_video(tmp_path / "zoom.avi", frames)
    config = TrackerConfig(every=6, smoothing=SmoothingConfig(enabled=False))
    with VideoSource(path) as source:
        tracker = FaceTracker(detector, config, source.info.fps)
        decoded = list(source.frames())
        tracked = [tracker.update(frame, i) for i, frame in enumerate(decoded)]
    assert [detected for _, detected in tracked] == [True] + [False] * 5
    last_detected = detector.detect(decoded[-1])[0]
    eye_distance = np.linalg.norm(last_detected.landmarks[0] - last_detected.landmarks[1])
    error = np.linalg.norm(tracked[-1][0][0].landmarks - last_detected.landmarks, axis=1)
    assert error.max() < 0.15 * eye_distance
    box_width = tracked[-1][0][0].box[2]
    assert abs(box_width - last_detected.box[2]) < 0.15 * last_detected.box[2]
