"""The one PSNR: plain and mask-weighted, inf for identical images."""
import math

import numpy as np

from fuse_trt.engine.metrics import psnr, psnr_from_mse


def test_psnr_of_a_known_error():
    reference = np.zeros((4, 4, 3), np.uint8)
    output = np.full((4, 4, 3), 255, np.uint8)
    assert psnr(output, reference) == 0.0
    output[:2] = 0  # half the pixels wrong by the full range: mse = 0.5 on a 0..1 scale
    assert abs(psnr(output, reference) - 10 * math.log10(2)) < 1e-9
    weight = np.zeros((4, 4), np.float32)
    weight[:2] = 1.0  # only the right half counts
    assert psnr(output, reference, weight) == math.inf
    assert psnr_from_mse(0.0) == math.inf and psnr_from_mse(0.01) == 20.0
