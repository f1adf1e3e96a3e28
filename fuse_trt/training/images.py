"""The images training and evaluation draw from: natural photos that ship in installed packages.

Training never sees a face photo: astronaut, grace_hopper and camera are kept for evaluation,
and two natural photos (coffee, flower) are held out of training to measure generalisation.
"""
from __future__ import annotations

import functools

import numpy as np

from fuse_trt.engine.photos import load_photo

TRAIN_IMAGES: tuple[str, ...] = (
    "chelsea", "rocket", "motorcycle_left", "immunohistochemistry", "china", "retina",
    "brick", "grass", "gravel", "coins", "moon")
HELD_OUT_IMAGES: tuple[str, ...] = ("coffee", "flower")
FACE_PHOTOS: tuple[str, ...] = ("astronaut", "grace_hopper", "camera")


@functools.lru_cache(maxsize=None)
def load_image(name: str) -> np.ndarray:
    """RGB uint8 HxWx3 read-only copy of a packaged photo (engine.photos), loaded once."""
    image = load_photo(name)
    image.setflags(write=False)
    return image


def load_images(names: tuple[str, ...]) -> list[np.ndarray]:
    return [load_image(name) for name in names]
