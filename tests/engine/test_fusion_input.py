"""The front end's shortcuts give exactly what the plain formulas give."""
import numpy as np
import pytest

from fuse_trt.engine.faces import ARCFACE_TEMPLATE_112, dilate_mask, face_mask
from fuse_trt.engine.faces.mask import EXACT_DILATION_PIXELS
from fuse_trt.engine.fusion_input import context_image, grown_masks


def _mask(shape, scale, shift):
    landmarks = (ARCFACE_TEMPLATE_112 * scale + np.float32(shift)).astype(np.float32)
    return face_mask(shape, landmarks)


@pytest.mark.parametrize("shape, scale, shift, pixels", [
    ((300, 280), 2.0, (30, 20), (5, 10)),
    ((200, 200), 3.0, (-90, 60), (13, 26)),  # the face runs off the left and bottom edges
    ((120, 160), 0.5, (100, 70), (1, 31)),  # near the right edge
    ((256, 256), 2.0, (10, 10), (12, EXACT_DILATION_PIXELS + 8)),  # one reduced-scale band
])
def test_grown_masks_equal_dilate_mask(shape, scale, shift, pixels):
    mask = _mask(shape, scale, shift)
    assert mask.max() > 0
    for grown, p in zip(grown_masks(mask, pixels), pixels):
        expected = dilate_mask(mask, p)
        assert grown.dtype == expected.dtype and np.array_equal(grown, expected), p


def test_grown_masks_of_an_empty_mask_are_empty():
    grown = grown_masks(np.zeros((40, 50), np.float32), (3, 6))
    assert all(g.dtype == np.float32 and not g.any() for g in grown)


def test_context_image_equals_the_float_formula():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    target = frame[10:80, 20:110]  # a crop view, as the pipeline passes it
    binary = dilate_mask(_mask(target.shape[:2], 0.5, (5, 5)), 4)
    soft = _mask(target.shape[:2], 0.5, (5, 5))  # feathered: the general path
    for hole in (binary, soft, np.zeros_like(binary), np.ones_like(binary)):
        expected = (target * (1.0 - hole[:, :, None])).astype(np.uint8)
        got = context_image(target, hole)
        assert got.dtype == np.uint8 and np.array_equal(got, expected)
    assert 0 < binary.mean() < 1 and ((soft > 0) & (soft < 1)).any()
