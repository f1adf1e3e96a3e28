"""Image quality numbers shared by the quality report and the INT8 accuracy gate."""
from __future__ import annotations

import math

import numpy as np


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    """PSNR (dB) of a mean squared error on a 0..``peak`` scale; inf when it is 0."""
    return math.inf if mse <= 0 else 10.0 * math.log10(peak * peak / mse)


def weighted_mse(output: np.ndarray, reference: np.ndarray,
                 weight: np.ndarray | None = None) -> float:
    """Mean squared error over HxWxC images, over the pixels weighted by ``weight`` (HxW)."""
    error = (output.astype(np.float64) - reference.astype(np.float64)) ** 2
    if weight is None:
        return float(error.mean())
    channels = 1 if error.ndim == 2 else error.shape[2]
    weighted = error * (weight if error.ndim == 2 else weight[:, :, None])
    return float(weighted.sum() / (channels * weight.sum() + 1e-12))


def psnr(output: np.ndarray, reference: np.ndarray, weight: np.ndarray | None = None,
         peak: float = 255.0) -> float:
    """PSNR (dB) of ``output`` against ``reference`` (uint8: peak 255), optionally weighted."""
    return psnr_from_mse(weighted_mse(output, reference, weight), peak)
