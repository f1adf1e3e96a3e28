import numpy as np

from fuse_trt.training.images import (FACE_PHOTOS, HELD_OUT_IMAGES, TRAIN_IMAGES,
                                                   load_image)
from fuse_trt.training.pairs import (PairConfig, make_pair, random_batch,
                                                  random_landmarks)
from fuse_trt.engine.faces import Face
from fuse_trt.engine.fusion_input import prepare_face


def test_training_never_sees_an_evaluation_photo():
    assert not set(TRAIN_IMAGES) & (set(FACE_PHOTOS) | set(HELD_OUT_IMAGES))


def _pair(seed=0, size=96):
    rng = np.random.default_rng(seed)
    image = load_image("chelsea")[100:100 + size, 150:150 + size].copy()
    landmarks = random_landmarks(size, rng, PairConfig(size=size))
    return image, landmarks, make_pair(image, landmarks, rng, PairConfig(size=size))


def test_pair_inputs_are_what_the_inference_front_end_makes():
    target, landmarks, pair = _pair()
    face = Face(box=(0.0, 0.0, 1.0, 1.0), landmarks=landmarks, score=1.0)
    # Source aligned to itself: the similarity warp is the identity, so only the blend differs.
    prep = prepare_face(target, face, pair.source, landmarks, region="frame")
    np.testing.assert_array_equal(pair.inputs.composite, prep.composite)
    np.testing.assert_array_equal(pair.inputs.mask, prep.mask)
    np.testing.assert_array_equal(pair.inputs.context, prep.context)
    np.testing.assert_allclose(pair.inputs.support, prep.support, atol=1e-6)


def test_context_hides_the_dilated_mask_and_the_composite_keeps_the_outside():
    target, _, pair = _pair()
    inputs = pair.inputs
    assert (inputs.hole >= (inputs.mask > 0)).all()
    assert not inputs.context[inputs.hole > 0].any()
    outside = inputs.mask == 0
    np.testing.assert_array_equal(inputs.composite[outside], target[outside])
    assert np.abs(pair.source.astype(int) - target).mean() > 2  # the copy really was changed


def test_pairs_are_deterministic_per_seed():
    first, second, other = _pair(3)[2], _pair(3)[2], _pair(4)[2]
    np.testing.assert_array_equal(first.source, second.source)
    assert not np.array_equal(first.source, other.source)


def test_random_batch_is_planar_float_in_unit_range():
    batch = random_batch([load_image("rocket")], np.random.default_rng(0), 3, PairConfig(size=48))
    assert batch["composite"].shape == (3, 3, 48, 48) and batch["mask"].shape == (3, 1, 48, 48)
    for array in batch.values():
        assert array.dtype == np.float32 and 0.0 <= array.min() and array.max() <= 1.0
