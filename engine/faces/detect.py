"""Face detection with YuNet through OpenCV: boxes, five landmarks and scores.

Detection runs on a copy scaled so its long side is about ``detect_long_side`` pixels (an
upscaled 1920 px image gave YuNet false positives in trials); coordinates are scaled back to
the input image. One :class:`FaceDetector` holds one OpenCV detector and is meant for one
thread at a time; create one per worker thread.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from fuse_trt.engine.faces.models import model_path, opencv_errors_only
from fuse_trt.engine.errors import FuseTrtError, InputImageError

log = logging.getLogger("fuse_trt")

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Face:
    """One detected face in image coordinates.

    ``box`` is (x, y, w, h); ``landmarks`` is float32 (5, 2) as (x, y) in the order right eye,
    left eye, nose, right mouth corner, left mouth corner (subject's right = image left).
    """

    box: Box
    landmarks: np.ndarray
    score: float
    track: int | None = field(default=None, compare=False)  # the tracker's id, in a stream

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])


@dataclass(frozen=True)
class DetectorConfig:
    score_threshold: float = 0.6
    nms_threshold: float = 0.3
    top_k: int = 50
    detect_long_side: int = 640

    def __post_init__(self) -> None:
        if not 0.0 < self.score_threshold <= 1.0 or not 0.0 < self.nms_threshold <= 1.0:
            raise FuseTrtError("face detector thresholds must lie in (0, 1]")
        if self.top_k < 1 or self.detect_long_side < 32:
            raise FuseTrtError("face detector needs top_k >= 1 and detect_long_side >= 32")


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputImageError(
            f"expected an RGB uint8 HxWx3 image, got dtype {image.dtype} shape {image.shape}"
        )


def _detection_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(w, h) of the copy YuNet sees: long side scaled to ``long_side``, at least 1 px."""
    scale = long_side / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_faces(rows: np.ndarray | None, scale_x: float, scale_y: float) -> list[Face]:
    if rows is None or rows.size == 0:
        return []
    faces = []
    for row in np.asarray(rows, dtype=np.float32).reshape(-1, 15):
        box = (float(row[0] * scale_x), float(row[1] * scale_y),
               float(row[2] * scale_x), float(row[3] * scale_y))
        landmarks = row[4:14].reshape(5, 2) * np.float32([scale_x, scale_y])
        faces.append(Face(box, landmarks.astype(np.float32), float(row[14])))
    return sorted(faces, key=lambda face: face.area, reverse=True)


class FaceDetector:
    """YuNet detector; ``detect(image)`` returns faces sorted by area, largest first."""

    def __init__(self, config: DetectorConfig = DetectorConfig()) -> None:
        self.config = config
        self._input_size: tuple[int, int] = (320, 320)
        with opencv_errors_only():
            self._detector = cv2.FaceDetectorYN.create(
                str(model_path("detector")), "", self._input_size,
                config.score_threshold, config.nms_threshold, config.top_k,
            )

    def _set_size(self, size: tuple[int, int]) -> None:
        if size != self._input_size:
            self._detector.setInputSize(size)
            self._input_size = size

    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces in an RGB uint8 image, in the image's own pixel coordinates."""
        _check_image(image)
        height, width = image.shape[:2]
        size = _detection_size(height, width, self.config.detect_long_side)
        if size != (width, height):
            shrinking = size[0] < width
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinking
                               else cv2.INTER_LINEAR)
        self._set_size(size)
        _, rows = self._detector.detect(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        faces = _to_faces(rows, width / size[0], height / size[1])
        log.debug("detected %d face(s) in %dx%d image", len(faces), width, height)
        return faces
