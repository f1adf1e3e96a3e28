"""Paste a processed crop back into the full frame."""
from __future__ import annotations

import numpy as np

from fuse_trt.engine.errors import ImageShapeError
from fuse_trt.engine.faces.composite import alpha_blend
from fuse_trt.engine.faces.region import Region


def paste_into(frame: np.ndarray, region: Region, crop_result: np.ndarray,
               alpha: np.ndarray) -> None:
    """Blend ``crop_result`` into ``region`` of ``frame`` by ``alpha`` (HxW, crop coords), in
    place. Pixels where ``alpha`` is 0, and everything outside the region, keep their values."""
    expected = (region.height, region.width)
    if crop_result.shape[:2] != expected or np.shape(alpha)[:2] != expected:
        raise ImageShapeError(f"crop {crop_result.shape[:2]} and alpha {np.shape(alpha)[:2]} "
                              f"must match the region's {expected}")
    alpha_blend(crop_result, region.crop(frame), alpha, in_place=True)


def paste_back(frame: np.ndarray, region: Region, crop_result: np.ndarray,
               alpha: np.ndarray) -> np.ndarray:
    """A new frame: :func:`paste_into` a copy; ``frame`` itself is never modified."""
    output = frame.copy()
    paste_into(output, region, crop_result, alpha)
    return output
