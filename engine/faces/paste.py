"""Paste a processed crop back into the full frame."""
from __future__ import annotations

import numpy as np

from fuse_trt.engine.faces.composite import alpha_blend
from fuse_trt.engine.faces.region import Region


def paste_back(frame: np.ndarray, region: Region, crop_result: np.ndarray,
               alpha: np.ndarray) -> np.ndarray:
    """A new frame with ``crop_result`` blended into ``region`` by ``alpha`` (HxW, crop coords).

    Pixels where ``alpha`` is 0, and everything outside the region, keep the frame's values;
    ``frame`` itself is never modified.
    """
    expected = (region.height, region.width)
    if crop_result.shape[:2] != expected or np.shape(alpha)[:2] != expected:
        raise ValueError(f"crop {crop_result.shape[:2]} and alpha {np.shape(alpha)[:2]} "
                         f"must match the region's {expected}")
    output = frame.copy()
    window = region.crop(output)
    window[...] = alpha_blend(crop_result, window, alpha)
    return output
