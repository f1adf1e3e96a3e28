"""Shared fixtures for the face-path tests: real photos, one detector, one encoder."""
from __future__ import annotations

import numpy as np
import pytest

from fuse_trt.engine.faces import Face, FaceDetector, IdentityEncoder


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="session")
def encoder() -> IdentityEncoder:
    return IdentityEncoder()


@pytest.fixture(scope="session")
def astronaut_face(detector: FaceDetector, astronaut: np.ndarray) -> Face:
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    return faces[0]


@pytest.fixture(scope="session")
def grace_face(detector: FaceDetector, grace: np.ndarray) -> Face:
    faces = detector.detect(grace)
    assert len(faces) == 1
    return faces[0]


@pytest.fixture(scope="session")
def camera_face(detector: FaceDetector, camera: np.ndarray) -> Face:
    faces = detector.detect(camera)
    assert len(faces) >= 1
    return faces[0]
