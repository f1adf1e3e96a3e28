import cv2
import numpy as np
import pytest

from fuse_trt.engine.faces import (alpha_blend, colour_transfer_lab, face_mask, naive_paste,
                                   seamless_clone, similarity_transform, warp_image)


@pytest.fixture(scope="module")
def fusion_inputs(astronaut, grace, astronaut_face, grace_face):
    """The astronaut's face warped onto grace_hopper's landmarks, and grace's face mask."""
    matrix = similarity_transform(astronaut_face.landmarks, grace_face.landmarks)
    warped = warp_image(astronaut, matrix, grace.shape[:2])
    mask = face_mask(grace.shape[:2], grace_face.landmarks)
    return warped, grace, mask


def _lab_mean(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    return np.average(lab, axis=0, weights=mask.ravel())


def test_colour_transfer_moves_in_mask_lab_mean_to_target(fusion_inputs):
    warped, target, mask = fusion_inputs
    before = np.abs(_lab_mean(warped, mask) - _lab_mean(target, mask))
    moved = colour_transfer_lab(warped, target, mask)
    assert moved.dtype == np.uint8 and moved.shape == target.shape
    after = np.abs(_lab_mean(moved, mask) - _lab_mean(target, mask))
    assert before.max() > 5.0  # the two faces really differ in colour
    assert after.max() < 1.0
    assert not np.shares_memory(moved, warped)


def test_colour_transfer_onto_grey_removes_chroma(fusion_inputs, camera):
    warped, _, mask = fusion_inputs
    grey_target = cv2.resize(camera, (512, 600))
    moved = colour_transfer_lab(warped, grey_target, mask)
    inside = moved[mask > 0.5].astype(int)
    assert np.abs(inside[:, 0] - inside[:, 2]).mean() < 3.0


def test_alpha_blend_weights():
    foreground = np.full((4, 5, 3), 200, np.uint8)
    background = np.full((4, 5, 3), 100, np.uint8)
    alpha = np.zeros((4, 5), np.float32)
    alpha[0] = 1.0
    alpha[1] = 0.5
    alpha[2] = 0.25
    out = alpha_blend(foreground, background, alpha)
    assert out.dtype == np.uint8
    assert list(out[:, 0, 0]) == [200, 150, 125, 100]


def test_naive_paste_is_a_hard_cut(fusion_inputs):
    warped, target, mask = fusion_inputs
    out = naive_paste(warped, target, mask)
    assert np.array_equal(out[mask > 0.5], warped[mask > 0.5])
    assert np.array_equal(out[mask <= 0.5], target[mask <= 0.5])


def test_seamless_clone_in_place_and_mask_untouched(fusion_inputs):
    warped, target, mask = fusion_inputs
    kept = mask.copy()
    out = seamless_clone(warped, target, mask)
    assert np.array_equal(mask, kept)
    assert out.shape == target.shape and out.dtype == np.uint8
    x, y, w, h = cv2.boundingRect((mask > 0.5).astype(np.uint8))
    box = np.zeros(mask.shape, bool)
    box[y:y + h, x:x + w] = True
    assert np.array_equal(out[~box], target[~box])
    # OpenCV's solve diffuses a few pixels past the mask edge, and fades out quickly
    distance = cv2.distanceTransform((mask <= 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    ring = box & (distance >= 8)
    assert np.abs(out[ring].astype(int) - target[ring]).mean() < 2.0
    inside = mask > 0.9
    assert np.abs(out[inside].astype(int) - target[inside]).mean() > 5.0


def test_seamless_clone_with_mask_touching_the_border(astronaut, grace):
    source = cv2.resize(astronaut, (256, 300))
    target = cv2.resize(grace, (256, 300))
    mask = np.zeros((300, 256), np.float32)
    mask[:120, :100] = 1.0  # touches the top and left edges
    out = seamless_clone(source, target, mask)
    assert np.array_equal(out[200:, 150:], target[200:, 150:])
    assert np.abs(out[5:100, 5:90].astype(int) - target[5:100, 5:90]).mean() > 5.0


def test_seamless_clone_with_empty_mask_returns_target(fusion_inputs):
    warped, target, _ = fusion_inputs
    out = seamless_clone(warped, target, np.zeros(target.shape[:2], np.float32))
    assert np.array_equal(out, target) and out is not target
