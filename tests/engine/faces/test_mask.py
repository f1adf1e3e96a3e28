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
