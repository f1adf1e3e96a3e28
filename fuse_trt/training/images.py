"""The images training and evaluation draw from: natural photos that ship in installed packages.

Training never sees a face photo: astronaut, grace_hopper and camera are kept for evaluation,
and two natural photos (coffee, flower) are held out of training to measure generalisation.
"""
from __future__ import annotations

import functools

import numpy as np

TRAIN_IMAGES: tuple[str, ...] = (
    "chelsea", "rocket", "motorcycle_left", "immunohistochemistry", "china", "retina",
    "brick", "grass", "gravel", "coins", "moon")
HELD_OUT_IMAGES: tuple[str, ...] = ("coffee", "flower")
FACE_PHOTOS: tuple[str, ...] = ("astronaut", "grace_hopper", "camera")


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3].astype(np.uint8))


def _sklearn_image(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return load_sample_image(f"{name}.jpg")


def _matplotlib_image(name: str) -> np.ndarray:
    import cv2
    import matplotlib

    path = f"{matplotlib.get_data_path()}/sample_data/{name}.jpg"
    return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _skimage_image(name: str) -> np.ndarray:
    import skimage.data

    if name == "motorcycle_left":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


@functools.lru_cache(maxsize=None)
def load_image(name: str) -> np.ndarray:
    """RGB uint8 HxWx3 copy of a packaged photo (grey photos become three equal channels)."""
    if name in ("china", "flower"):
        image = _sklearn_image(name)
    elif name == "grace_hopper":
        image = _matplotlib_image(name)
    else:
        image = _skimage_image(name)
    rgb = _as_rgb(image)
    rgb.setflags(write=False)
    return rgb


def load_images(names: tuple[str, ...]) -> list[np.ndarray]:
    return [load_image(name) for name in names]
