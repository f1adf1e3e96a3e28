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
    good_crop, good_alpha = np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.float32)
    for crop, alpha in ((good_crop[:9], good_alpha), (good_crop, good_alpha[:, :9])):
        with pytest.raises(ValueError, match=r"must match the region's \(10, 10\)"):
            paste_back(grace, region, crop, alpha)


def test_regions_are_frozen():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        Region(0, 0, 10, 10).x0 = 1


def gradient(height, width):
    rows, cols = np.mgrid[0:height, 0:width]
    return np.dstack([rows * 10 + cols, cols * 7, 255 - rows * 9]).astype(np.uint8)


@pytest.mark.parametrize("region", [Region(7, 5, 17, 13), Region(0, 0, 10, 8), Region(40, 22, 50, 30)])
def test_a_gradient_crop_lands_pixel_for_pixel_in_its_window(region):
    """Every pasted pixel is checked against the window computed by hand: a window off by one
    row or column (or one cut at a frame edge) moves the gradient and fails."""
    frame = np.full((30, 50, 3), 77, np.uint8)
    crop = gradient(region.height, region.width)
    out = paste_back(frame, region, crop, np.ones((region.height, region.width), np.float32))
    expected = frame.copy()
    for row in range(region.height):
        for col in range(region.width):
            expected[region.y0 + row, region.x0 + col] = crop[row, col]
    np.testing.assert_array_equal(out, expected)


def test_partial_alpha_blends_each_pixel_by_hand():
    region = Region(3, 2, 7, 5)
    frame = np.full((8, 9, 3), 200, np.uint8)
    crop = gradient(region.height, region.width)
    alpha = np.array([[0.0, 0.25, 0.5, 1.0]] * region.height, np.float32)
    out = paste_back(frame, region, crop, alpha)
    for row in range(region.height):
        for col, weight in enumerate(alpha[row]):
            want = np.rint(weight * crop[row, col].astype(float) + (1 - weight) * 200.0)
            np.testing.assert_array_equal(out[region.y0 + row, region.x0 + col], want)
    assert np.all(out[:region.y0] == 200) and np.all(out[:, region.x1:] == 200)
