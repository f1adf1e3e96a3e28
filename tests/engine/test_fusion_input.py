"""What the UNet is fed: the context image and the classical inputs, by hand, and the front
end's shortcuts against the plain formulas."""
import cv2
import numpy as np
import pytest

from fuse_trt.engine.faces import (ARCFACE_TEMPLATE_112, alpha_blend, colour_transfer_lab,
                                   dilate_mask, face_mask)
from fuse_trt.engine.faces.mask import EXACT_DILATION_PIXELS, dilate_masks
from fuse_trt.engine.fusion_input import classical_inputs, context_image, face_size


def test_the_context_is_the_target_with_the_hole_zeroed_by_hand():
    target = np.full((2, 3, 3), 200, np.uint8)
    target[1, 2] = (10, 20, 30)
    hole = np.array([[1.0, 0.5, 0.0], [0.0, 0.25, 0.0]], np.float32)
    context = context_image(target, hole)
    assert context.dtype == np.uint8
    assert context[:, :, 0].tolist() == [[0, 100, 200], [200, 150, 10]]
    assert context[1, 2].tolist() == [10, 20, 30]


def test_classical_inputs_on_the_template_by_hand():
    """Landmarks on the 4x template (eyes 4 x 35.5 px apart): face size 2.5 x 142 = 355 px, a
    feather band of round(0.08 x 355) = 28 px; the hole is the mask grown by it, the context
    the target zeroed there, the composite the colour-moved source blended by the mask."""
    landmarks = ARCFACE_TEMPLATE_112 * 4.0
    assert face_size(landmarks) == np.float32(2.5) * np.linalg.norm(landmarks[0] - landmarks[1])
    rng = np.random.default_rng(0)
    target = rng.integers(0, 256, (520, 448, 3), dtype=np.uint8)
    warped = rng.integers(0, 256, (520, 448, 3), dtype=np.uint8)
    inputs = classical_inputs(warped, target, landmarks)
    mask = face_mask((520, 448), landmarks)
    np.testing.assert_array_equal(inputs.mask, mask)
    rows, cols = np.nonzero(inputs.hole)
    mask_rows, mask_cols = np.nonzero(mask > 0)
    grown = (mask_rows.min() - rows.min(), rows.max() - mask_rows.max(),
             mask_cols.min() - cols.min(), cols.max() - mask_cols.max())
    assert all(27 <= g <= 28 for g in grown), grown  # the band, 28 px, on every side
    np.testing.assert_array_equal(inputs.context[inputs.hole > 0], 0)
    np.testing.assert_array_equal(inputs.context[inputs.hole == 0], target[inputs.hole == 0])
    expected = alpha_blend(colour_transfer_lab(warped, target, mask), target, mask)
    np.testing.assert_array_equal(inputs.composite, expected)
    assert inputs.support.min() >= 0.0 and inputs.support.max() <= 1.0
    assert inputs.support[mask >= 1.0].min() > 0.9999 and inputs.support[0, 0] == 0.0
    without = classical_inputs(warped, target, landmarks, with_context=False)
    assert without.context is None and without.hole is None
    images = inputs.images
    assert list(images) == ["composite", "mask", "context"]
    assert images["composite"] is inputs.composite and images["context"] is inputs.context
    assert list(without.images) == ["composite", "mask"]  # no context: not fed


def test_a_face_is_prepared_in_its_default_region():
    from fuse_trt.engine.faces import Face, fusion_region
    from fuse_trt.engine.fusion_input import prepare_face

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)
    face = Face((150.0, 150.0, 100.0, 100.0), ARCFACE_TEMPLATE_112 * (100 / 112) + 150, 0.9)
    source = rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)
    prep = prepare_face(frame, face, source, ARCFACE_TEMPLATE_112)
    assert prep.region == fusion_region(face, (400, 400), context=0.6)
    assert prep.region.width == prep.region.height in (220, 221)  # ceil(100 x 2.2), in floats
    np.testing.assert_array_equal(prep.target, prep.region.crop(frame))
    assert prep.context is not None and not prep.bgr  # by default: the UNet's context, RGB


def _mask(shape, scale, shift):
    landmarks = (ARCFACE_TEMPLATE_112 * scale + np.float32(shift)).astype(np.float32)
    return face_mask(shape, landmarks)


@pytest.mark.parametrize("shape, scale, shift, pixels", [
    ((300, 280), 2.0, (30, 20), (5, 10)),
    ((200, 200), 3.0, (-90, 60), (13, 26)),  # the face runs off the left and bottom edges
    ((120, 160), 0.5, (100, 70), (1, 31)),  # near the right edge
    ((256, 256), 2.0, (10, 10), (12, EXACT_DILATION_PIXELS + 8)),  # still exact (factor 1)
    ((400, 400), 2.0, (90, 90), (20, 2 * EXACT_DILATION_PIXELS + 6)),  # a 1/2-scale band
])
def test_dilate_masks_equal_dilate_mask(shape, scale, shift, pixels):
    mask = _mask(shape, scale, shift)
    assert mask.max() > 0
    for grown, p in zip(dilate_masks(mask, pixels), pixels):
        expected = dilate_mask(mask, p)
        assert grown.dtype == expected.dtype and np.array_equal(grown, expected), p


def test_dilate_masks_of_an_empty_mask_are_empty():
    grown = dilate_masks(np.zeros((40, 50), np.float32), (3, 6))
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


def test_paste_blends_by_ratio_times_support_by_hand():
    """Support 0.5 everywhere, a result of 200 onto black: ratio 1 pastes 100, ratio 0.5 pastes
    0.5 x 0.5 x 200 = 50."""
    from fuse_trt.engine.faces import Region
    from fuse_trt.engine.fusion_input import FacePrep

    region = Region(1, 1, 5, 4)  # 4 wide, 3 high
    crop = np.zeros((3, 4, 3), np.uint8)
    prep = FacePrep(region=region, target=crop, composite=crop, mask=np.zeros((3, 4), np.float32),
                    context=None, support=np.full((3, 4), 0.5, np.float32),
                    result=np.full((3, 4, 3), 200, np.uint8))
    for ratio, expected in ((1.0, 100), (0.5, 50)):
        frame = np.zeros((6, 7, 3), np.uint8)
        prep.paste_into(frame, ratio)
        assert (frame[1:4, 1:5] == expected).all() and frame.sum() == expected * 3 * 4 * 3


@pytest.mark.parametrize("with_context", [True, False])
def test_the_support_is_the_mask_grown_by_twice_the_band_then_feathered(with_context):
    """Landmarks on the 4x template: band 28 px (see above), so the support is the mask grown by
    56 px and blurred with sigma 14: above 0.8 within 56 - 14 px of the mask (OpenCV's exact
    distance), below 0.2 from 56 + 14 px on, and about a normal CDF in between."""
    landmarks = ARCFACE_TEMPLATE_112 * 4.0
    rng = np.random.default_rng(1)
    target = rng.integers(0, 256, (640, 560, 3), dtype=np.uint8)
    inputs = classical_inputs(target, target, landmarks, with_context=with_context)
    distance = cv2.distanceTransform((inputs.mask <= 0).astype(np.uint8), cv2.DIST_L2,
                                     cv2.DIST_MASK_PRECISE)
    assert inputs.support[distance <= 56 - 14].min() > 0.8
    assert inputs.support[distance >= 56 + 14].max() < 0.2
    # the feather's width: 10 px inside and outside the grown edge (0.7 sigma), the blur of an
    # edge is Phi(+-0.7) ~ 0.76 / 0.24 (a narrower blur would be past 0.8 / below 0.2 there)
    inside_ring = (distance >= 46) & (distance <= 47)
    outside_ring = (distance >= 65) & (distance <= 66)
    assert 0.7 < inputs.support[inside_ring].min() and inputs.support[inside_ring].max() < 0.8
    assert 0.2 < inputs.support[outside_ring].min() and inputs.support[outside_ring].max() < 0.3


def test_classical_inputs_are_frozen():
    landmarks = ARCFACE_TEMPLATE_112 * 2.0
    target = np.zeros((260, 230, 3), np.uint8)
    inputs = classical_inputs(target, target, landmarks, with_context=False)
    with pytest.raises(AttributeError):
        inputs.support = None
