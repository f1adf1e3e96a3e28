import numpy as np
import pytest

from fuse_trt.engine.faces import cosine


@pytest.fixture(scope="module")
def embeddings(detector, encoder, astronaut, grace, camera, astronaut_face, grace_face,
               camera_face):
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    mirrored_face = detector.detect(mirrored)[0]
    return {
        "astronaut": encoder.embed(astronaut, astronaut_face.landmarks),
        "mirrored": encoder.embed(mirrored, mirrored_face.landmarks),
        "grace": encoder.embed(grace, grace_face.landmarks),
        "camera": encoder.embed(camera, camera_face.landmarks),
    }


def test_embeddings_are_unit_float32(embeddings):
    for vector in embeddings.values():
        assert vector.shape == (128,) and vector.dtype == np.float32
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_same_person_mirrored_is_close(embeddings):
    assert cosine(embeddings["astronaut"], embeddings["mirrored"]) > 0.9


@pytest.mark.parametrize("a, b", [("astronaut", "grace"), ("grace", "camera"),
                                  ("mirrored", "grace")])
def test_different_people_are_far(embeddings, a, b):
    assert cosine(embeddings[a], embeddings[b]) < 0.35


def test_colour_order_matters(encoder, astronaut, astronaut_face, embeddings):
    # the model wants RGB: swapping channels must change the embedding noticeably
    swapped = np.ascontiguousarray(astronaut[..., ::-1])
    assert cosine(encoder.embed(swapped, astronaut_face.landmarks), embeddings["astronaut"]) < 0.995


def test_cosine_basics():
    a = np.array([1.0, 0.0, 0.0])
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine(a, np.array([0.0, 2.0, 0.0])) == pytest.approx(0.0)
    assert cosine(a, -3 * a) == pytest.approx(-1.0)
    assert cosine(a, np.zeros(3)) == 0.0
