"""ModelSpec builds feeds: each input batched in its layout and dtype, images fitted by the
tier plans, values the model does not read left alone."""
import numpy as np
import pytest

from fuse_trt.engine.errors import InferenceInputError
from fuse_trt.engine.spec import FUSION_SPEC, IDENTITY_FUSION_SPEC, ModelSpec, TensorSpec, from_planar
from fuse_trt.engine.tiers import TierTable


def _sample(rng, height=20, width=30):
    return {"composite": rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
            "mask": rng.random((height, width), dtype=np.float32),
            "context": rng.integers(0, 256, (height, width, 3), dtype=np.uint8)}


def test_images_become_planar_batches_in_unit_range():
    rng = np.random.default_rng(0)
    samples = [_sample(rng), _sample(rng)]
    feed = FUSION_SPEC.feed(samples)
    assert list(feed) == FUSION_SPEC.input_names
    assert feed["composite"].shape == (2, 3, 20, 30) and feed["composite"].dtype == np.float32
    assert feed["mask"].shape == (2, 1, 20, 30)
    for index, sample in enumerate(samples):
        np.testing.assert_array_equal(feed["composite"][index, 2],
                                      sample["composite"][:, :, 2] * np.float32(1 / 255))
        np.testing.assert_array_equal(feed["mask"][index, 0], sample["mask"])
        np.testing.assert_array_equal(from_planar(feed["context"][index]), sample["context"])


def test_the_plans_fit_each_sample_to_its_tier():
    tiers = TierTable.from_short_edges((32, 64), stride=16)
    rng = np.random.default_rng(1)
    samples = [_sample(rng, 20, 30), _sample(rng, 24, 28)]
    plans = [tiers.plan(20, 30), tiers.plan(24, 28)]
    feed = FUSION_SPEC.feed(samples, plans)
    assert feed["composite"].shape == (2, 3, 32, 32)
    for index, (sample, plan) in enumerate(zip(samples, plans)):
        np.testing.assert_array_equal(from_planar(feed["composite"][index]),
                                      plan.apply(sample["composite"]))
        np.testing.assert_array_equal(feed["mask"][index, 0], plan.apply(sample["mask"]))


def test_vector_inputs_and_dtypes_come_from_the_spec():
    half = ModelSpec("half", inputs=(TensorSpec("image", 3, dtype="float16"),
                                     TensorSpec("identity", 4, layout="vector", dtype="float16")),
                     outputs=(TensorSpec("out", 3, dtype="float16"),))
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    feed = half.feed([{"image": image, "identity": np.arange(4.0), "unused": None}])
    assert feed["image"].dtype == np.float16 and feed["identity"].dtype == np.float16
    np.testing.assert_array_equal(feed["identity"], [[0, 1, 2, 3]])
    np.testing.assert_allclose(feed["image"][0], image.transpose(2, 0, 1) / 255.0, atol=1e-3)
    assert IDENTITY_FUSION_SPEC.vector_inputs == (IDENTITY_FUSION_SPEC.tensor("identity"),)


def test_a_sample_of_the_wrong_size_or_channels_names_the_input():
    rng = np.random.default_rng(3)
    with pytest.raises(InferenceInputError, match="'composite'"):
        FUSION_SPEC.feed([_sample(rng, 20, 30), _sample(rng, 20, 31)])
    bad = _sample(rng)
    bad["mask"] = np.zeros((20, 30, 3), np.float32)
    with pytest.raises(InferenceInputError, match="'mask'"):
        FUSION_SPEC.feed([bad])


def test_spec_defaults_descriptions_and_json_round_trip():
    import dataclasses
    import json

    from fuse_trt.engine.unet import UNetConfig

    assert FUSION_SPEC.stride == UNetConfig().stride == 16  # the UNet halves H and W 4 times
    assert FUSION_SPEC.opset == 17  # what TensorRT 8.6 (JetPack 5) parses; README's default
    vector = IDENTITY_FUSION_SPEC.tensor("identity")
    assert vector.describe() == "[N, 128] float32"
    assert FUSION_SPEC.tensor("mask").describe() == "[N, 1, H, W] float32"
    for frozen in (vector, FUSION_SPEC):
        with pytest.raises(dataclasses.FrozenInstanceError):
            frozen.name = "x"
    assert dataclasses.replace(FUSION_SPEC, description="other words") == FUSION_SPEC
    text = IDENTITY_FUSION_SPEC.dumps()
    assert list(json.loads(text)) == sorted(json.loads(text))
    assert ModelSpec.from_json(json.loads(text)) == IDENTITY_FUSION_SPEC


def test_the_tier_example_and_io_dtypes():
    tier = TierTable.from_short_edges((32, 48), stride=16).by_name("48")
    example = IDENTITY_FUSION_SPEC.tier_example_feed(tier)
    assert {name: value.shape for name, value in example.items()} == {
        "composite": (1, 3, 48, 48), "mask": (1, 1, 48, 48), "context": (1, 3, 48, 48),
        "identity": (1, 128)}
    half = FUSION_SPEC.with_io_dtypes({"composite": "float16", "fused": "float16"})
    assert [t.dtype for t in half.inputs] == ["float16", "float32", "float32"]
    assert [t.dtype for t in half.outputs] == ["float16"]
    assert [t.dtype for t in FUSION_SPEC.inputs] == ["float32"] * 3  # the original untouched


def test_planar_values_outside_the_unit_range_are_clipped_by_hand():
    planar = np.array([[[-0.5, 0.0, 0.5, 1.0, 1.5]]], np.float32).repeat(3, axis=0)
    assert from_planar(planar)[0, :, 0].tolist() == [0, 0, 128, 255, 255]


def test_the_validation_tolerance_is_the_documented_one():
    """Exports must agree with PyTorch within atol 1e-4, rtol 1e-3 (the figures the validation
    reports, benchmarks/graph/graph_rewrite.md, are checked against)."""
    assert (FUSION_SPEC.atol, FUSION_SPEC.rtol) == (1e-4, 1e-3)
