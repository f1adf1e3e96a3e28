"""Real images that ship inside installed packages, split into calibration and held-out sets.

Face photos go through the inference face path; natural images (no face) get a synthetic
face-like composite. The held-out split shares no image with the calibration split, so the
accuracy gate measures INT8 on inputs the quantizer never saw.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from fuse_trt.engine.errors import FuseTrtError

Split = Literal["calibration", "held_out"]
ImageKind = Literal["face", "natural"]


@dataclass(frozen=True)
class ImageSource:
    name: str
    kind: ImageKind
    load: Callable[[], np.ndarray]  # RGB uint8 HxWx3


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image[:, :, :3].astype(np.uint8))


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return _rgb(image[0] if isinstance(image, tuple) else image)
    return load


def _sklearn(file_name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return _rgb(load_sample_image(file_name))
    return load


def _grace_hopper() -> np.ndarray:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FuseTrtError(f"{path}: matplotlib's sample photo is missing or unreadable")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _package_sample(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from fuse_trt.engine.faces import load_sample

        return load_sample(name)
    return load


_CALIBRATION = (
    ImageSource("astronaut", "face", _skimage("astronaut")),
    ImageSource("camera", "face", _skimage("camera")),
    ImageSource("coffee", "natural", _skimage("coffee")),
    ImageSource("chelsea", "natural", _skimage("chelsea")),
    ImageSource("rocket", "natural", _skimage("rocket")),
    ImageSource("immunohistochemistry", "natural", _skimage("immunohistochemistry")),
    ImageSource("coins", "natural", _skimage("coins")),
    ImageSource("china", "natural", _sklearn("china.jpg")),
)
_HELD_OUT = (
    ImageSource("grace_hopper", "face", _grace_hopper),
    ImageSource("flower", "natural", _sklearn("flower.jpg")),
    ImageSource("motorcycle", "natural", _skimage("stereo_motorcycle")),
)


def _package_faces(taken: set[str]) -> tuple[ImageSource, ...]:
    """Face photos bundled with fuse_trt that are not already listed (by name)."""
    from fuse_trt.engine.faces import SAMPLE_NAMES

    return tuple(ImageSource(name, "face", _package_sample(name))
                 for name in sorted(SAMPLE_NAMES) if name not in taken)


def image_sources(split: Split) -> tuple[ImageSource, ...]:
    """The images of one split, in a fixed order. Extra package samples join calibration."""
    if split == "held_out":
        return _HELD_OUT
    if split != "calibration":
        raise ValueError(f"unknown split {split!r}")
    taken = {source.name for source in (*_CALIBRATION, *_HELD_OUT)}
    return (*_CALIBRATION, *_package_faces(taken))
