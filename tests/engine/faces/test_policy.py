"""The one face policy: choice, index past the end, turned faces, parsing."""
import numpy as np
import pytest

from fuse_trt.engine.choices import FaceChoice
from fuse_trt.engine.errors import ConfigError, NoFaceError
from fuse_trt.engine.faces import ARCFACE_TEMPLATE_112, Face
from fuse_trt.engine.faces.policy import FacePolicy, parse_face_choice


def face(x: float, nose_shift: float = 0.0) -> Face:
    landmarks = ARCFACE_TEMPLATE_112.copy() + np.float32([x, 0])
    landmarks[2, 0] += nose_shift  # the nose moves along the eye axis as the head turns
    return Face(box=(x, 0.0, 112.0, 112.0), landmarks=landmarks, score=0.9)


FRONTAL, OTHER, TURNED = face(0), face(200), face(400, nose_shift=30.0)


@pytest.mark.parametrize("value, expected", [
    ("largest", FaceChoice.LARGEST), ("all", FaceChoice.ALL), (FaceChoice.ALL, FaceChoice.ALL),
    ("2", 2), (0, 0), (" 1 ", 1)])
def test_face_choices_parse(value, expected):
    assert parse_face_choice(value) == expected


@pytest.mark.parametrize("value", ["left", "-1", -1, True, 1.5, None, ""])
def test_bad_face_choices_are_config_errors(value):
    with pytest.raises(ConfigError, match="face must be largest, all or an index"):
        parse_face_choice(value)


def test_choose_largest_all_and_an_index():
    faces = [FRONTAL, OTHER, TURNED]
    assert FacePolicy("largest").choose(faces) == [FRONTAL]
    assert FacePolicy("all").choose(faces) == faces
    assert FacePolicy(1).choose(faces) == [OTHER]
    assert FacePolicy(5).choose(faces) == []


def test_an_index_past_the_end_is_an_error_for_a_still_only():
    assert FacePolicy(2).decide([FRONTAL]).fuse == ()
    with pytest.raises(NoFaceError, match="face index 2 requested, 1 face"):
        FacePolicy(2).decide_still([FRONTAL])


def test_turned_faces_are_set_aside_unless_allowed():
    decision = FacePolicy("all").decide([FRONTAL, TURNED])
    assert decision.fuse == (FRONTAL,) and decision.turned == (TURNED,)
    assert decision.yaws[0] > 0.5
    message = FacePolicy("all").turned_message(decision)
    assert message.startswith("1 target face(s) turned past yaw 0.50 left untouched ((400, 0)")
    forced = FacePolicy("all", allow_profile=True).decide([FRONTAL, TURNED])
    assert forced.fuse == (FRONTAL, TURNED) and forced.turned == ()


def test_a_turned_source_is_refused_unless_allowed():
    with pytest.raises(NoFaceError, match="pick a frontal photo"):
        FacePolicy().check_source(TURNED)
    FacePolicy().check_source(FRONTAL)
    FacePolicy(allow_profile=True).check_source(TURNED)
