import cv2
import numpy as np
import pytest

from fuse_trt.engine.faces import ARCFACE_TEMPLATE_112, dilate_mask, face_mask, seam_band


@pytest.fixture(scope="module")
def mask(astronaut, astronaut_face):
    return face_mask(astronaut.shape[:2], astronaut_face.landmarks)


def test_one_in_the_face_zero_far_away(mask, astronaut_face):
    assert mask.shape == (512, 512) and mask.dtype == np.float32
    assert mask.min() == 0.0 and mask.max() == 1.0
    nose_x, nose_y = np.round(astronaut_face.landmarks[2]).astype(int)
    assert mask[nose_y, nose_x] == 1.0
    for eye in astronaut_face.landmarks[:2]:
        assert mask[int(eye[1]), int(eye[0])] > 0.9
    assert mask[:20].max() == 0.0 and mask[300:].max() == 0.0 and mask[:, :120].max() == 0.0


def test_feathered_and_monotonic_outwards(mask, astronaut_face):
    band = (mask > 0) & (mask < 1)
    assert band.sum() > 0.3 * (mask > 0).sum()  # a real feather, not a hard edge
    nose_x, nose_y = np.round(astronaut_face.landmarks[2]).astype(int)
    for ray in (mask[nose_y, nose_x:], mask[nose_y, nose_x::-1], mask[nose_y:, nose_x]):
        assert np.all(np.diff(ray) <= 1e-6)
        assert ray[0] == 1.0 and ray[-1] == 0.0


def test_mask_scales_with_the_face(astronaut_face, mask):
    bigger = face_mask((1024, 1024), astronaut_face.landmarks * 2)
    assert (bigger > 0.5).sum() == pytest.approx(4 * (mask > 0.5).sum(), rel=0.03)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_mask_turns_with_the_landmarks(astronaut_face, mask):
    width = mask.shape[1]
    # np.rot90 (counter-clockwise): pixel (x, y) goes to (y, width - 1 - x)
    x, y = astronaut_face.landmarks[:, 0], astronaut_face.landmarks[:, 1]
    turned = np.stack([y, width - 1 - x], axis=1)
    turned_mask = face_mask((mask.shape[1], mask.shape[0]), turned)
    assert _iou(turned_mask > 0.5, np.rot90(mask) > 0.5) > 0.97


def test_mask_follows_the_face_in_a_rotated_photo(detector, astronaut, mask):
    rotation = cv2.getRotationMatrix2D((256.0, 256.0), 25.0, 1.0)
    turned = cv2.warpAffine(astronaut, rotation, (512, 512), borderMode=cv2.BORDER_REFLECT)
    faces = detector.detect(turned)
    assert len(faces) >= 1
    turned_mask = face_mask(turned.shape[:2], faces[0].landmarks)
    expected = cv2.warpAffine(mask, rotation, (512, 512)) > 0.5
    assert _iou(turned_mask > 0.5, expected) > 0.85


def test_hard_edge_without_feather(astronaut_face):
    hard = face_mask((512, 512), astronaut_face.landmarks, feather=0.0)
    assert ((hard > 0) & (hard < 1)).sum() < 0.1 * (hard == 1).sum()


def test_dilate_covers_feather_band_and_grows(mask):
    grown = dilate_mask(mask, 5)
    assert grown.dtype == np.float32 and set(np.unique(grown)) == {0.0, 1.0}
    assert np.all(grown[mask > 0] == 1.0)
    assert grown.sum() > (mask > 0).sum()
    assert np.array_equal(dilate_mask(mask, 0), (mask > 0).astype(np.float32))


def test_seam_band_only_in_the_feather(mask):
    band = seam_band(mask)
    assert band.dtype == np.float32 and band.max() <= 1.0
    assert np.all(band[(mask == 0) | (mask == 1)] == 0)
    assert np.all(band[(mask > 0.01) & (mask < 0.99)] > 0)
    near_half = np.abs(mask - 0.5) < 0.01
    assert band[near_half].min() > 0.99


@pytest.mark.parametrize("pixels", [1, 3, 6])
def test_dilation_grows_a_point_by_exactly_the_pixels_asked(pixels):
    mask = np.zeros((21, 21), np.float32)
    mask[10, 10] = 0.2
    grown = dilate_mask(mask, pixels)
    assert grown[10].sum() == grown[:, 10].sum() == 2 * pixels + 1
    assert grown[10, 10 - pixels] == grown[10 - pixels, 10] == 1.0
    assert set(np.unique(grown)) == {0.0, 1.0}


def test_the_mask_fades_out_inside_the_template_ellipse_by_hand():
    """On the template itself (identity transform, 4x up): the mask is 0.5 on the ellipse
    shrunk by 2.5 sigma, 1 well inside, about 0 from the template ellipse out (x-56)^2/37^2 +
    (y-70)^2/45^2 = 1, all computed here from the documented constants."""
    scale = 4.0
    mask = face_mask((448, 448), ARCFACE_TEMPLATE_112 * scale)
    rows, cols = np.mgrid[0:448, 0:448] / scale
    radius = np.sqrt(((cols - 56.0) / 37.0) ** 2 + ((rows - 70.0) / 45.0) ** 2)
    assert mask[radius > 1.0].max() < 0.01 and np.all(mask[radius > 1.05] == 0.0)
    assert np.all(mask[radius < 0.5] == 1.0)
    shrunk = 1.0 - 2.5 * 0.08 * 37.0 / 37.0  # semi-axes scaled by 1 - margin / short axis
    ring = np.abs(radius - shrunk) < 0.005
    assert ring.sum() > 50 and np.abs(mask[ring] - 0.5).max() < 0.1


def _disc(height=90, width=150):
    image = np.zeros((height, width), np.float32)
    cv2.circle(image, (width // 3, height // 2), 20, 1.0, -1)
    return image


def test_a_blur_up_to_the_exact_sigma_is_opencvs_own():
    from fuse_trt.engine.faces.mask import EXACT_BLUR_SIGMA, gaussian_blur

    image = _disc()
    for sigma in (1.5, EXACT_BLUR_SIGMA):
        exact = cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
        np.testing.assert_array_equal(gaussian_blur(image, sigma), exact)


def test_a_wide_blur_runs_at_the_documented_reduced_scale_by_hand():
    """sigma 12 on 90x150: scale factor 12 / 6 x 1.5 = 3, so a 50x30 image blurred with
    sigma 12 x 50 / 150 = 4 px (4 px of the small image), then resized back bicubically;
    it stays within 0.01 of the exact blur."""
    from fuse_trt.engine.faces.mask import gaussian_blur

    image = _disc()
    small = cv2.resize(image, (50, 30), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 4.0, borderType=cv2.BORDER_REPLICATE)
    by_hand = cv2.resize(small, (150, 90), interpolation=cv2.INTER_CUBIC)
    blurred = gaussian_blur(image, 12.0)
    np.testing.assert_allclose(blurred, by_hand, atol=1e-6)
    exact = cv2.GaussianBlur(image, (0, 0), 12.0, borderType=cv2.BORDER_REPLICATE)
    assert np.abs(blurred - exact).max() < 0.01


def test_a_blur_wider_than_a_tiny_image_averages_it():
    """2x3 at sigma 30: the reduced image is a single pixel, the area mean, resized back."""
    from fuse_trt.engine.faces.mask import gaussian_blur

    tiny = np.array([[0.0, 0.3, 0.6], [0.9, 0.2, 0.4]], np.float32)
    np.testing.assert_allclose(gaussian_blur(tiny, 30.0), np.full((2, 3), tiny.mean()),
                               atol=1e-6)


@pytest.mark.parametrize("pixels", [0, -2])
def test_no_growth_asked_gives_the_binary_mask(pixels):
    soft = np.zeros((9, 9), np.float32)
    soft[3:6, 4] = (0.1, 0.7, 1.0)
    np.testing.assert_array_equal(dilate_mask(soft, pixels), (soft > 0).astype(np.float32))
    assert not dilate_mask(np.zeros((9, 9), np.float32), 3).any()


def test_seam_band_values_by_hand():
    # 4 m (1 - m): 0 at 0 and 1, 0.36 at 0.1 and 0.9, 1 at 0.5; 0 outside [0, 1]
    mask = np.array([[0.0, 0.1, 0.5, 0.9, 1.0, 1.2, -0.3]], np.float32)
    np.testing.assert_allclose(seam_band(mask), [[0.0, 0.36, 1.0, 0.36, 0.0, 0.0, 0.0]],
                               atol=1e-6)


def test_a_wide_dilation_lands_within_its_scale_factor_of_the_exact_disc():
    """64 px runs at 1/2 scale: a disc of radius 20 grows to radius 84 give or take 2 px
    (plus one for the disc's own pixel edge)."""
    rows, cols = np.mgrid[0:301, 0:301]
    distance = np.hypot(rows - 150, cols - 150)
    disc = (distance <= 20).astype(np.float32) * 0.4
    grown = dilate_mask(disc, 64)
    assert set(np.unique(grown)) == {0.0, 1.0} and grown.shape == disc.shape
    assert grown[distance <= 84 - 3].all() and not grown[distance > 84 + 3].any()


def test_a_wide_dilation_keeps_a_mask_smaller_than_its_scale_factor():
    """A one-pixel mask grown by 64 px (the 1/2-scale path) is a disc of radius 64 +- 3 (the
    factor and the small grid's pixel), as 63 px (exact) gives; averaging it away at the small
    scale (a uint8 area mean of 1/4 rounds to 0) left the single pixel."""
    point = np.zeros((301, 301), np.float32)
    point[150, 150] = 1.0
    rows, cols = np.mgrid[0:301, 0:301]
    distance = np.hypot(rows - 150, cols - 150)
    grown = dilate_mask(point, 64)
    assert grown[distance <= 64 - 3].all() and not grown[distance > 64 + 3].any()


@pytest.mark.parametrize(("centre", "axes", "shape_hw"), [((330, 90), (40, 10), (260, 420)),
                                                           ((70, 300), (8, 35), (420, 260))])
def test_a_wide_dilation_of_a_long_mask_off_centre(centre, axes, shape_hw):
    """A long ellipse off the centre of a long image, grown by 64 px (1/2 scale): every pixel
    within 64 - 2 px of it (OpenCV's exact distance transform) is in, none beyond 64 + 2 x 2
    (a small-grid cell the mask touches counts as inside), and the mask itself stays."""
    mask = np.zeros(shape_hw, np.uint8)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1)
    distance = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2,
                                     cv2.DIST_MASK_PRECISE)
    grown = dilate_mask(mask.astype(np.float32), 64)
    assert grown[distance <= 64 - 2].all() and not grown[distance > 64 + 4].any()
    assert grown[mask > 0].all()


@pytest.mark.parametrize("feather", [0.0, 0.45 / 37.0])
def test_a_mask_on_the_template_is_the_documented_polygon_fill_by_hand(feather):
    """Landmarks on the template itself (an identity transform): the mask is the 96-point
    ellipse (centre (56, 70), semi-axes (37, 45), angles 2 pi k / 96) shrunk by 2.5 sigma,
    filled anti-aliased at 4 subpixel bits, blurred when sigma reaches 0.3 px (0.45 px here)
    and snapped by (m - 1e-3) / (1 - 2e-3)."""
    sigma = feather * 37.0
    angles = 2.0 * np.pi * np.arange(96) / 96
    shrink = 1.0 - 2.5 * sigma / 37.0
    polygon = np.stack([56.0 + 37.0 * shrink * np.cos(angles),
                        70.0 + 45.0 * shrink * np.sin(angles)], axis=1)
    fill = np.zeros((112, 112), np.float32)
    cv2.fillPoly(fill, [np.round(polygon * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA,
                 shift=4)
    if sigma:
        fill = cv2.GaussianBlur(fill, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    expected = np.clip((fill - 1e-3) / (1.0 - 2e-3), 0.0, 1.0)
    mask = face_mask((112, 112), ARCFACE_TEMPLATE_112, feather=feather)
    np.testing.assert_allclose(mask, expected, atol=1e-6)


@pytest.mark.parametrize("corner", [(0, 0), (-1, -1)])
def test_an_exact_dilation_at_the_image_corner_reaches_the_edge_rows(corner):
    """A mask touching the first (or last) row and column of a tall image, grown by 6 px: the
    exact disc, OpenCV's distance transform over the whole image, edge rows and columns
    included."""
    mask = np.zeros((50, 40), np.float32)
    mask[corner] = 1.0
    mask[corner[0] + (1 if corner[0] == 0 else -1), corner[1]] = 1.0
    distance = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2,
                                     cv2.DIST_MASK_PRECISE)
    np.testing.assert_array_equal(dilate_mask(mask, 6), (distance <= 6).astype(np.float32))
