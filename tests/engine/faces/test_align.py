import cv2
import numpy as np
import pytest

from fuse_trt.engine.faces import (ARCFACE_TEMPLATE_112, PROFILE_YAW_THRESHOLD, align_to_template,
                                   similarity_transform, warp_image, yaw_ratio)
from fuse_trt.engine.faces.align import transform_points
from fuse_trt.engine.errors import NoFaceError


def _similarity(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D((0.0, 0.0), angle_deg, scale)
    matrix[:, 2] = shift
    return matrix


@pytest.mark.parametrize("angle, scale, shift", [(20.0, 1.7, (30.0, -12.0)),
                                                 (-75.0, 0.4, (400.0, 220.0)),
                                                 (180.0, 3.0, (0.0, 0.0))])
def test_recovers_a_known_similarity(astronaut_face, angle, scale, shift):
    src = astronaut_face.landmarks
    known = _similarity(angle, scale, shift)
    dst = transform_points(known, src)
    matrix = similarity_transform(src, dst)
    assert matrix.shape == (2, 3) and matrix.dtype == np.float64
    assert np.abs(transform_points(matrix, src) - dst).max() < 0.5
    assert np.allclose(matrix, known, atol=1e-2 * max(1.0, np.abs(shift).max()))


def test_noisy_landmarks_still_land_within_two_pixels(astronaut_face):
    rng = np.random.default_rng(0)
    dst = transform_points(_similarity(10.0, 2.0, (50.0, 20.0)), astronaut_face.landmarks)
    noisy = dst + rng.normal(0.0, 0.7, dst.shape)
    matrix = similarity_transform(astronaut_face.landmarks, noisy)
    assert np.abs(transform_points(matrix, astronaut_face.landmarks) - dst).max() < 2.0


def test_degenerate_landmarks_raise():
    with pytest.raises(NoFaceError):
        similarity_transform(np.full((5, 2), 7.0, np.float32), ARCFACE_TEMPLATE_112)


def test_warp_image_moves_pixels():
    image = np.zeros((40, 50, 3), np.uint8)
    image[10, 20] = (255, 128, 7)
    warped = warp_image(image, np.array([[1.0, 0, 5], [0, 1.0, 3]]), (60, 70))
    assert warped.shape == (60, 70, 3)
    assert tuple(warped[13, 25]) == (255, 128, 7)
    assert warped[10, 20].sum() == 0


def test_align_to_template_puts_landmarks_on_the_template(astronaut, astronaut_face):
    aligned, matrix = align_to_template(astronaut, astronaut_face.landmarks, 224)
    assert aligned.shape == (224, 224, 3)
    moved = transform_points(matrix, astronaut_face.landmarks)
    error = np.linalg.norm(moved - 2 * ARCFACE_TEMPLATE_112, axis=1)
    # a least-squares fit: real faces differ from the template by a few pixels
    assert error.max() < 10.0 and error.mean() < 8.0
    # the eyes sit where the template puts them: dark pupils near the template's eye points
    for eye in 2 * ARCFACE_TEMPLATE_112[:2]:
        x, y = np.round(eye).astype(int)
        assert aligned[y - 6:y + 7, x - 6:x + 7].mean() < aligned[150:170, 90:130].mean()


def test_template_is_frontal_and_roll_does_not_count():
    assert yaw_ratio(ARCFACE_TEMPLATE_112) < 0.02
    rolled = transform_points(_similarity(35.0, 2.0, (100.0, 80.0)), ARCFACE_TEMPLATE_112)
    assert yaw_ratio(rolled) < 0.02


def test_nose_at_the_eye_corner_is_flagged():
    landmarks = ARCFACE_TEMPLATE_112.copy()
    landmarks[2, 0] = landmarks[1, 0]  # nose straight below the left eye
    assert yaw_ratio(landmarks) == pytest.approx(np.sqrt(0.5), abs=0.02)
    assert yaw_ratio(landmarks) > PROFILE_YAW_THRESHOLD
    landmarks[2, 0] = landmarks[0, 0]  # the other side is the same
    assert yaw_ratio(landmarks) > PROFILE_YAW_THRESHOLD


def test_yaw_grows_with_nose_offset_and_stays_below_one():
    values = []
    for offset in (0.0, 5.0, 10.0, 20.0, 60.0, 400.0):
        landmarks = ARCFACE_TEMPLATE_112.copy()
        landmarks[2, 0] += offset
        values.append(yaw_ratio(landmarks))
    assert values == sorted(values) and values[-1] < 1.0 and values[-1] > 0.99


def test_photos_calibrate_the_threshold(astronaut_face, grace_face, camera_face):
    assert yaw_ratio(astronaut_face.landmarks) < PROFILE_YAW_THRESHOLD - 0.2
    assert yaw_ratio(grace_face.landmarks) < PROFILE_YAW_THRESHOLD - 0.2
    assert yaw_ratio(camera_face.landmarks) > PROFILE_YAW_THRESHOLD + 0.2


def test_landmarks_already_on_the_scaled_template_need_no_warp():
    image = np.zeros((224, 224, 3), np.uint8)
    _, matrix = align_to_template(image, ARCFACE_TEMPLATE_112 * 2.0, size=224)
    np.testing.assert_allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-4)
    crop, matrix = align_to_template(image, ARCFACE_TEMPLATE_112)  # the default size: 112
    assert crop.shape == (112, 112, 3)
    np.testing.assert_allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-4)


def test_yaw_of_eyes_just_above_the_collapse_threshold_is_measured():
    """Eyes 1.5e-6 px apart are still measured (a nose on the eyes' bisector: frontal, 0);
    only eyes closer than 1e-6 count as collapsed (profile, 1.0)."""
    eyes_apart = lambda d: np.array([[10.0, 10.0], [10.0 + d, 10.0], [10.0 + d / 2, 12.0],
                                     [9.0, 14.0], [11.0, 14.0]])
    assert yaw_ratio(eyes_apart(1.5e-6)) == pytest.approx(0.0, abs=1e-6)
    assert yaw_ratio(eyes_apart(0.5e-6)) == 1.0


def test_eyes_exactly_1e_6_apart_are_still_measured():
    # eyes at 0 and 1e-6 (norm exactly 1e-6), nose a quarter of the distance off the bisector:
    # r = 0.25e-6 / 0.5e-6 = 0.5, yaw = 0.5 / sqrt(1.25)
    landmarks = np.array([[0.0, 0.0], [1e-6, 0.0], [0.75e-6, 2.0], [0.0, 3.0], [1e-6, 3.0]])
    assert yaw_ratio(landmarks) == pytest.approx(0.5 / np.sqrt(1.25), rel=1e-6)


@pytest.mark.parametrize(("scale", "aligns"), [(1.2e-6, True), (0.9e-6, False)])
def test_the_degenerate_bound_is_a_determinant_of_1e_12(scale, aligns):
    """A similarity's determinant is its scale squared: 1.44e-12 aligns, 0.81e-12 does not."""
    if aligns:
        matrix = similarity_transform(ARCFACE_TEMPLATE_112, ARCFACE_TEMPLATE_112 * scale)
        assert np.linalg.det(matrix[:, :2]) == pytest.approx(scale ** 2, rel=1e-3)
    else:
        with pytest.raises(NoFaceError, match="degenerate"):
            similarity_transform(ARCFACE_TEMPLATE_112, ARCFACE_TEMPLATE_112 * scale)


def test_inverting_a_known_similarity_by_hand():
    from fuse_trt.engine.faces.align import invert_transform

    inverse = invert_transform(np.array([[2.0, 0.0, 10.0], [0.0, 2.0, 20.0]]))
    np.testing.assert_allclose(inverse, [[0.5, 0.0, -5.0], [0.0, 0.5, -10.0]])
    assert inverse.dtype == np.float64
