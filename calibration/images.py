"""Real images that ship inside installed packages, split into calibration and held-out sets.

Face photos go through the inference face path; natural images (no face) get a synthetic
face-like composite. The held-out split shares no image with the calibration split, so the
accuracy gate measures INT8 on inputs the quantizer never saw.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fuse_trt.engine.photos import load_photo

Split = Literal["calibration", "held_out"]
ImageKind = Literal["face", "natural"]


@dataclass(frozen=True)
class ImageSource:
    name: str
    kind: ImageKind
    load: Callable[[], np.ndarray]  # RGB uint8 HxWx3


def _photo(name: str) -> Callable[[], np.ndarray]:
    return functools.partial(load_photo, name)


_CALIBRATION = (
    ImageSource("astronaut", "face", _photo("astronaut")),
    ImageSource("camera", "face", _photo("camera")),
    ImageSource("coffee", "natural", _photo("coffee")),
    ImageSource("chelsea", "natural", _photo("chelsea")),
    ImageSource("rocket", "natural", _photo("rocket")),
    ImageSource("immunohistochemistry", "natural", _photo("immunohistochemistry")),
    ImageSource("coins", "natural", _photo("coins")),
    ImageSource("china", "natural", _photo("china")),
)
_HELD_OUT = (
    ImageSource("grace_hopper", "face", _photo("grace_hopper")),
    ImageSource("flower", "natural", _photo("flower")),
    ImageSource("motorcycle", "natural", _photo("motorcycle")),
)


def _package_faces(taken: set[str]) -> tuple[ImageSource, ...]:
    """Face photos bundled with fuse_trt that are not already listed (by name)."""
    from fuse_trt.engine.faces import SAMPLE_NAMES, load_sample

    return tuple(ImageSource(name, "face", functools.partial(load_sample, name))
                 for name in sorted(SAMPLE_NAMES) if name not in taken)


def image_sources(split: Split) -> tuple[ImageSource, ...]:
    """The images of one split, in a fixed order. Extra package samples join calibration."""
    if split == "held_out":
        return _HELD_OUT
    if split != "calibration":
        raise ValueError(f"unknown split {split!r}")
    taken = {source.name for source in (*_CALIBRATION, *_HELD_OUT)}
    return (*_CALIBRATION, *_package_faces(taken))
