"""Shared fixtures for the face-path tests: real photos, one detector, one encoder."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from fuse_trt.engine.faces import Face, FaceDetector, IdentityEncoder, load_sample


def _skimage_data(name: str) -> Path:
    spec = importlib.util.find_spec("skimage")
    assert spec is not None and spec.submodule_search_locations, "scikit-image is required"
    return Path(list(spec.submodule_search_locations)[0]) / "data" / name


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return load_sample("astronaut")


@pytest.fixture(scope="session")
def grace() -> np.ndarray:
    return load_sample("grace_hopper")


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    """skimage's grey cameraman photo as RGB: a three-quarter view that breaks fusion."""
    grey = cv2.imread(str(_skimage_data("camera.png")), cv2.IMREAD_GRAYSCALE)
    assert grey is not None
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)


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
