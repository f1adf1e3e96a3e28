"""The fusion region: the part of the frame around one face that the UNet sees.

A 4K frame with a small face costs a small-tier pass because only this region is processed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fuse_trt.engine.faces.detect import Face


@dataclass(frozen=True)
class Region:
    """Pixel box ``[x0, x1) x [y0, y1)`` in frame coordinates."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The region of ``image`` as a view (copy it before writing to it)."""
        return image[self.y0:self.y1, self.x0:self.x1]

    def offset_landmarks(self, landmarks: np.ndarray) -> np.ndarray:
        """Frame-coordinate (N, 2) points in region coordinates, float32."""
        return (np.asarray(landmarks, dtype=np.float32) - np.float32([self.x0, self.y0]))

    def shift_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """A 2x3 affine whose output is frame coordinates, re-targeted to region coordinates.

        The translation into the region is applied after ``matrix``; float64 2x3.
        """
        shifted = np.array(matrix, dtype=np.float64).reshape(2, 3)
        shifted[:, 2] -= (self.x0, self.y0)
        return shifted


def _span(centre: float, side: int, limit: int) -> tuple[int, int]:
    """``side`` px around ``centre``, shifted (not shrunk) to fit in ``[0, limit)``."""
    side = max(1, min(side, limit))
    start = min(max(int(math.floor(centre - side / 2.0)), 0), limit - side)
    return start, start + side


def fusion_region(face: Face, image_shape_hw: tuple[int, int], context: float = 0.6,
                  min_size: int = 0) -> Region:
    """A square around ``face.box`` grown by ``context`` x its long side on each side.

    The side is at least ``min_size`` where the image allows; a box near the border is shifted
    inwards. Where the image is shorter than the side, both sides are cut to the image's short
    side (never below ``min_size`` or the face box itself), so the region stays square and the
    UNet's square face tiers take it without downscaling (engine/tiers.py).
    """
    height, width = int(image_shape_hw[0]), int(image_shape_hw[1])
    x, y, w, h = face.box
    side = max(int(math.ceil(max(w, h) * (1.0 + 2.0 * context))), int(min_size), 1)
    square = max(min(side, height, width), int(min_size))
    x0, x1 = _span(x + w / 2.0, max(square, int(math.ceil(w))), width)
    y0, y1 = _span(y + h / 2.0, max(square, int(math.ceil(h))), height)
    return Region(x0, y0, x1, y1)
