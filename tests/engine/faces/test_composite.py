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


def reference_colour_transfer(source, target, mask, step=1):
    """Reinhard's LAB transfer written out a second way: the box from np.nonzero, weighted
    moments as explicit sums over every ``step``-th row and column, gain in [0, 4] with a
    source std floor of 1 LAB unit."""
    rows, cols = np.nonzero(mask > 0)
    box = slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)

    def lab(image):
        return cv2.cvtColor(image[box].astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)

    weights = mask[box].astype(np.float64)[::step, ::step, None]

    def moments(values):
        values = values[::step, ::step].astype(np.float64)
        mean = (values * weights).sum((0, 1)) / weights.sum()
        return mean, np.sqrt((((values - mean) ** 2) * weights).sum((0, 1)) / weights.sum())

    source_lab = lab(source)
    (source_mean, source_std), (target_mean, target_std) = moments(source_lab), moments(lab(target))
    gain = np.minimum(target_std / np.maximum(source_std, 1.0), 4.0)
    moved = (source_lab - source_mean.astype(np.float32)) * gain.astype(np.float32) \
        + target_mean.astype(np.float32)
    rgb = cv2.cvtColor(moved, cv2.COLOR_LAB2RGB) * 255.0
    out = source.copy()
    out[box] = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return out, rgb


def test_colour_transfer_matches_a_second_implementation_with_clipped_colours(fusion_inputs):
    warped, grace, mask = fusion_inputs
    stretched = np.clip((grace.astype(int) - 128) * 3 + 128, 0, 255).astype(np.uint8)
    expected, unclipped = reference_colour_transfer(warped, stretched, mask)
    # OpenCV saturates LAB -> RGB to 0..1 itself; black pixels must stay exactly black
    assert (unclipped == 0).sum() > 100
    moved = colour_transfer_lab(warped, stretched, mask)
    assert np.abs(moved.astype(int) - expected).max() <= 1
    assert (moved[expected == 0] == 0).all()
    assert (moved != expected).mean() < 0.001
    rows, cols = np.nonzero(mask > 0)  # outside the mask's box: the source, unchanged
    outside = np.ones(mask.shape, bool)
    outside[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = False
    assert outside.any() and np.array_equal(moved[outside], warped[outside])


@pytest.mark.parametrize(("source_levels", "target_levels"), [
    ((118, 124), (60, 200)),  # target std >> 4 x source std: the gain is capped at 4
    ((120, 122), (125, 131)),  # source std below 1 LAB unit: the floor sets the gain
])
def test_colour_transfer_gain_is_capped_and_the_source_std_floored(source_levels,
                                                                   target_levels):
    """Grey stripes: the moved stripes' L contrast is the capped/floored gain times the source's."""
    def stripes(low, high):
        image = np.full((40, 30, 3), low, np.uint8)
        image[::2] = high
        return image

    source, target = stripes(*source_levels), stripes(*target_levels)
    mask = np.zeros((40, 30), np.float32)
    mask[5:35, 5:25] = 1.0
    expected, _ = reference_colour_transfer(source, target, mask)
    moved = colour_transfer_lab(source, target, mask)
    assert np.abs(moved.astype(int) - expected).max() <= 1
    lightness = cv2.cvtColor(moved.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[5:35, 5:25, 0]
    source_l = cv2.cvtColor(source.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[5:35, 5:25, 0]
    contrast = np.ptp(lightness[:2, 0]) / np.ptp(source_l[:2, 0])
    target_l = cv2.cvtColor(target.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[:2, 0, 0]
    wanted = min(np.ptp(target_l) / 2 / max(np.ptp(source_l[:2, 0]) / 2, 1.0), 4.0)
    assert contrast == pytest.approx(wanted, rel=0.2)


def test_large_face_statistics_come_from_every_second_pixel():
    """A 1100x1000 box holds over 2**20 pixels: the moments are taken on every second row and
    column. The source's even rows and columns are darker, so the sample changes the result."""
    rng = np.random.default_rng(3)
    source = rng.integers(100, 160, (1100, 1000, 3), dtype=np.uint8)
    source[::2, ::2] -= 40
    target = rng.integers(40, 220, (1100, 1000, 3), dtype=np.uint8)
    mask = np.ones((1100, 1000), np.float32)
    moved = colour_transfer_lab(source, target, mask)
    sampled, _ = reference_colour_transfer(source, target, mask, step=2)
    every, _ = reference_colour_transfer(source, target, mask, step=1)
    assert np.abs(sampled.astype(int) - every).max() > 3
    assert np.abs(moved.astype(int) - sampled).max() <= 1


def test_an_empty_mask_gives_a_copy_and_one_pixel_is_enough():
    source = np.full((6, 7, 3), 200, np.uint8)
    target = np.full((6, 7, 3), 50, np.uint8)
    empty = np.zeros((6, 7), np.float32)
    for function, unchanged in ((colour_transfer_lab, source), (alpha_blend, target)):
        out = function(source, target, empty)
        assert np.array_equal(out, unchanged) and not np.shares_memory(out, unchanged)
    dot = empty.copy()
    dot[2, 3] = 0.5
    blended = alpha_blend(source, target, dot)
    assert blended[2, 3].tolist() == [125, 125, 125]  # 50 + 0.5 x 150
    assert (blended != target).any(axis=2).sum() == 1
    moved = colour_transfer_lab(source, target, dot)  # a one-pixel box: the target's colour
    assert np.abs(moved[2, 3].astype(int) - 50).max() <= 1
    assert (moved != source).any(axis=2).sum() == 1


def test_alpha_blend_leaves_both_inputs_alone_and_reaches_black():
    foreground = np.zeros((3, 4, 3), np.uint8)
    background = np.full((3, 4, 3), 90, np.uint8)
    alpha = np.ones((3, 4), np.float32)
    out = alpha_blend(foreground, background, alpha)
    assert out.tolist() == np.zeros((3, 4, 3), int).tolist()
    assert (background == 90).all() and (foreground == 0).all()


def test_a_mask_of_exactly_one_half_pastes_nothing(fusion_inputs):
    warped, target, _ = fusion_inputs
    half = np.full(target.shape[:2], 0.5, np.float32)
    assert np.array_equal(naive_paste(warped, target, half), target)
    assert np.array_equal(seamless_clone(warped, target, half), target)


def test_a_checkerboard_is_moved_by_every_pixel_of_a_small_mask():
    """Grey checkerboards 0/200 onto 100/140 in the same pattern: two equally weighted levels
    per channel, so matching mean and std sends the source's levels exactly onto the target's
    (L), and the chroma (0 in both, std floored) stays 0. Statistics from every second pixel
    would see one level only."""
    source = np.zeros((8, 8, 3), np.uint8)
    target = np.full((8, 8, 3), 100, np.uint8)
    for image, level in ((source, 200), (target, 140)):
        image[::2, ::2] = level
        image[1::2, 1::2] = level
    moved = colour_transfer_lab(source, target, np.ones((8, 8), np.float32))
    assert np.abs(moved.astype(int) - target).max() <= 1


def test_colours_pushed_past_white_are_clipped_to_white():
    """A mid-grey noisy source moved onto a near-white target: LAB -> RGB lands above 1.0 for
    many pixels, which must be 255, never wrap around to dark values."""
    rng = np.random.default_rng(0)
    source = rng.integers(60, 200, (40, 40, 3)).astype(np.uint8)
    target = np.full((40, 40, 3), 250, np.uint8)
    target[::2] = 235
    moved = colour_transfer_lab(source, target, np.ones((40, 40), np.float32))
    assert moved.min() >= 200 and (moved == 255).sum() > 100
