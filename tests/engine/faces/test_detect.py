import cv2
import numpy as np
import pytest

from fuse_trt.engine.faces import DetectorConfig, FaceDetector
from fuse_trt.engine.errors import FuseTrtError, InputImageError


def _assert_plausible(face, image):
    x, y, w, h = face.box
    assert face.score > 0.6 and w > 40 and h > 40
    assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32
    assert np.all(face.landmarks[:, 0] > x) and np.all(face.landmarks[:, 0] < x + w)
    assert np.all(face.landmarks[:, 1] > y) and np.all(face.landmarks[:, 1] < y + h)
    right_eye, left_eye, nose, right_mouth, left_mouth = face.landmarks
    assert right_eye[0] < nose[0] < left_eye[0] and right_mouth[0] < left_mouth[0]
    assert max(right_eye[1], left_eye[1]) < nose[1] < min(right_mouth[1], left_mouth[1])
    assert face.area == pytest.approx(w * h)


@pytest.mark.parametrize("name", ["astronaut", "grace"])
def test_one_face_with_landmarks_inside_its_box(request, detector, name):
    image = request.getfixturevalue(name)
    faces = detector.detect(image)
    assert len(faces) == 1
    _assert_plausible(faces[0], image)


def test_known_face_location(astronaut_face):
    # the astronaut's face sits around x 180..270, y 60..175 in the 512x512 photo
    x, y, w, h = astronaut_face.box
    assert 160 < x < 200 and 45 < y < 85 and 70 < w < 110 and 90 < h < 130


@pytest.mark.parametrize("name", ["astronaut", "grace"])
def test_upscaled_image_gives_same_face_scaled(request, detector, name):
    image = request.getfixturevalue(name)
    small = detector.detect(image)[0]
    big_image = cv2.resize(image, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    faces = detector.detect(big_image)
    assert len(faces) == 1
    assert np.abs(faces[0].landmarks - 4 * small.landmarks).max() < 6.0
    assert np.abs(np.array(faces[0].box) - 4 * np.array(small.box)).max() < 12.0


def test_faces_sorted_largest_first_in_image_coordinates(detector, astronaut, grace):
    half = cv2.resize(grace, (256, 300), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((512, 768, 3), np.uint8)
    canvas[:, :512] = astronaut
    canvas[100:400, 512:] = half
    faces = detector.detect(canvas)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].box[0] < 512 <= faces[1].box[0]
    assert 100 < faces[1].box[1] < 400


def test_input_size_set_only_when_it_changes(astronaut, grace):
    detector = FaceDetector(DetectorConfig(detect_long_side=400))
    real = detector._detector
    calls = []

    class Spy:
        def setInputSize(self, size):
            calls.append(size)
            real.setInputSize(size)

        def detect(self, image):
            return real.detect(image)

    detector._detector = Spy()
    for image in (astronaut, astronaut, grace, grace, astronaut):
        assert len(detector.detect(image)) == 1
    assert calls == [(400, 400), (341, 400), (400, 400)]


def test_no_face_in_a_flat_image(detector):
    assert detector.detect(np.full((300, 400, 3), 128, np.uint8)) == []


@pytest.mark.parametrize("bad", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 3), np.float32),
                                 np.zeros((64, 64, 4), np.uint8)])
def test_rejects_non_rgb_uint8(detector, bad):
    with pytest.raises(InputImageError):
        detector.detect(bad)


@pytest.mark.parametrize("field, value", [("score_threshold", 0.0), ("nms_threshold", 1.5),
                                          ("top_k", 0), ("detect_long_side", 8)])
def test_config_rejects_nonsense(field, value):
    with pytest.raises(FuseTrtError):
        DetectorConfig(**{field: value})
