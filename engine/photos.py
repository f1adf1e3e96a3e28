"""Named photos that ship inside installed packages: fuse-trt's own samples, scikit-image,
scikit-learn and matplotlib. The one place training, evaluation and calibration load from.

matplotlib is not a runtime dependency: where its copy of grace_hopper is missing, the one
shipped in fuse-trt's samples is used instead.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from fuse_trt.engine.errors import FuseTrtError

log = logging.getLogger("fuse_trt")


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image
    return load


def _sklearn(file_name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(file_name)
    return load


def _grace_hopper() -> np.ndarray:
    from fuse_trt.engine.faces.samples import load_sample

    try:
        import matplotlib
    except ImportError:
        return load_sample("grace_hopper")
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if bgr is None:
        log.debug("%s is missing or unreadable; using fuse-trt's own copy", path)
        return load_sample("grace_hopper")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


_SKIMAGE = ("astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry",
            "coins", "retina", "brick", "grass", "gravel", "moon")
_LOADERS: dict[str, Callable[[], np.ndarray]] = {
    **{name: _skimage(name) for name in _SKIMAGE},
    "motorcycle": _skimage("stereo_motorcycle"),
    "motorcycle_left": _skimage("stereo_motorcycle"),
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
    "grace_hopper": _grace_hopper,
}
PHOTO_NAMES: tuple[str, ...] = tuple(_LOADERS)


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image[:, :, :3].astype(np.uint8))


def load_photo(name: str) -> np.ndarray:
    """RGB uint8 HxWx3 copy of a packaged photo (grey photos get three equal channels)."""
    if name not in _LOADERS:
        raise FuseTrtError(f"unknown photo {name!r}; choose one of {', '.join(PHOTO_NAMES)}")
    try:
        return _rgb(_LOADERS[name]())
    except ImportError as error:
        raise FuseTrtError(f"photo {name!r} ships in {error.name}, which is not installed "
                           "(pip install fuse-trt[export])") from error
