import numpy as np
import pytest

from fuse_trt.engine.faces import Region, face_mask, paste_back


def test_paste_back_changes_only_where_alpha_is_set(grace, grace_face):
    region = Region(150, 100, 400, 380)
    kept = grace.copy()
    crop_result = np.full((region.height, region.width, 3), (255, 0, 255), np.uint8)
    alpha = face_mask((region.height, region.width), region.offset_landmarks(grace_face.landmarks))
    out = paste_back(grace, region, crop_result, alpha)
    assert np.array_equal(grace, kept)  # input untouched
    assert out is not grace and out.shape == grace.shape
    outside = np.ones(grace.shape[:2], bool)
    outside[region.y0:region.y1, region.x0:region.x1] = alpha == 0
    assert np.array_equal(out[outside], grace[outside])
    full = np.zeros(grace.shape[:2], bool)
    full[region.y0:region.y1, region.x0:region.x1] = alpha == 1
    assert full.any() and np.all(out[full] == (255, 0, 255))
    band = np.zeros(grace.shape[:2], bool)
    band[region.y0:region.y1, region.x0:region.x1] = (alpha > 0.3) & (alpha < 0.7)
    assert np.all(out[band][:, 1] < grace[band][:, 1].astype(int) + 1)  # magenta pulls green down


def test_paste_back_rejects_mismatched_crop(grace):
    region = Region(0, 0, 10, 10)
    with pytest.raises(ValueError):
        paste_back(grace, region, np.zeros((9, 10, 3), np.uint8), np.zeros((10, 10), np.float32))
