"""Sample face photos bundled with the package (public domain), for demos and tests."""
from __future__ import annotations

import importlib.resources
from pathlib import Path

import cv2
import numpy as np

from fuse_trt.engine.errors import FuseTrtError

SAMPLE_NAMES: tuple[str, ...] = ("astronaut", "grace_hopper")
SAMPLE_PREFIX = "sample:"


def samples_dir() -> Path:
    # Package data of the distribution, found as a resource so engine imports no package root.
    return Path(str(importlib.resources.files("fuse_trt") / "samples"))


def sample_path(name: str) -> Path:
    """Path of the bundled JPEG ``name`` (one of :data:`SAMPLE_NAMES`)."""
    if name not in SAMPLE_NAMES:
        raise FuseTrtError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLE_NAMES)}")
    path = samples_dir() / f"{name}.jpg"
    if not path.is_file():
        raise FuseTrtError(f"sample image {path} is missing from the installed package")
    return path


def load_sample(name: str) -> np.ndarray:
    """The bundled sample ``name`` as an RGB uint8 HxWx3 array."""
    bgr = cv2.imread(str(sample_path(name)), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FuseTrtError(f"sample image {sample_path(name)} cannot be decoded")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def resolve_image_path(value: str) -> Path:
    """``sample:NAME`` names a photo bundled with the package; anything else is a path."""
    if value.startswith(SAMPLE_PREFIX):
        return sample_path(value[len(SAMPLE_PREFIX):])
    return Path(value)
