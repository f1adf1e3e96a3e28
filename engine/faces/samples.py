"""Sample face photos bundled with the package (public domain), for demos and tests."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import fuse_trt
from fuse_trt.errors import FuseTrtError

SAMPLE_NAMES: tuple[str, ...] = ("astronaut", "grace_hopper")


def samples_dir() -> Path:
    return Path(fuse_trt.__file__).parent / "samples"


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
