"""The calibration set: deterministic, real images, every tier's profile covered."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fuse_trt.calibration.cache import cache_path, cached_samples, load_samples, save_samples
from fuse_trt.calibration.dataset import CalibrationConfig, build_samples, original_shape
from fuse_trt.calibration.images import image_sources
from fuse_trt.engine.spec import IDENTITY_FUSION_SPEC
from fuse_trt.engine.errors import FuseTrtError
from tests.calibration.conftest import TINY_CONFIG
from tests.conftest import tiny_tiers


def _image_of(sample) -> str:
    return sample.name.split("/")[0]


def test_same_config_gives_identical_samples(calibration_bundle_template, tiny_samples):
    bundle = calibration_bundle_template
    again = build_samples(bundle.spec, bundle.tiers, TINY_CONFIG)
    assert [s.name for s in again] == [s.name for s in tiny_samples]
    for first, second in zip(tiny_samples, again):
        for name in bundle.spec.input_names:
            np.testing.assert_array_equal(first.feed[name], second.feed[name])


def test_another_seed_gives_other_crops(calibration_bundle_template, tiny_samples):
    bundle = calibration_bundle_template
    other = build_samples(bundle.spec, bundle.tiers, replace(TINY_CONFIG, seed=7))
    differs = [not np.array_equal(a.feed["composite"], b.feed["composite"])
               for a, b in zip(tiny_samples, other) if a.shape == b.shape]
    assert any(differs) or [a.shape for a in tiny_samples] != [b.shape for b in other]


def test_every_tier_profile_is_covered(calibration_bundle_template, tiny_samples):
    tiers = calibration_bundle_template.tiers
    for tier in tiers:
        shapes = {s.shape for s in tiny_samples if s.tier == tier.name}
        assert tier.min_shape in shapes and tier.opt_shape in shapes
        if tier.max_shape != tier.min_shape:  # face tiers are square: one shape is all there is
            assert any(w > h for h, w in shapes) or any(h > w for h, w in shapes)
        longest = max(max(shape) for shape in shapes)
        assert longest >= 0.9 * max(tier.max_shape), (tier.name, shapes)
        assert all(tier.contains(*shape) for shape in shapes)
        assert all(h % tiers.stride == 0 and w % tiers.stride == 0 for h, w in shapes)


def test_feeds_match_the_model_inputs(calibration_bundle_template, tiny_samples):
    spec = calibration_bundle_template.spec
    for sample in tiny_samples:
        height, width = sample.shape
        for tensor in spec.inputs:
            array = sample.feed[tensor.name]
            assert array.shape == tensor.shape(1, height, width) and array.dtype == np.float32
            assert 0.0 <= array.min() and array.max() <= 1.0
        assert sample.feed["mask"].max() > 0.9, sample.name  # a face region is present
        composite, mask = sample.feed["composite"], sample.feed["mask"]
        context = sample.feed["context"]
        assert np.all(context[:, :, mask[0, 0] > 0.9] == 0)  # the face is cut out of the context
        assert not np.array_equal(composite, context)


def test_faces_and_natural_images_both_feed_the_set(tiny_samples):
    kinds = {source.name: source.kind for source in image_sources("calibration")}
    used = {kinds[_image_of(sample)] for sample in tiny_samples}
    assert used == {"face", "natural"}


def test_held_out_images_are_not_in_the_calibration_set(calibration_bundle_template,
                                                        tiny_samples, tiny_held_out):
    calibration_names = {source.name for source in image_sources("calibration")}
    held_out_names = {source.name for source in image_sources("held_out")}
    assert not calibration_names & held_out_names
    assert {_image_of(s) for s in tiny_held_out} <= held_out_names
    assert {_image_of(s) for s in tiny_samples} <= calibration_names
    assert {s.tier for s in tiny_held_out} == set(calibration_bundle_template.tiers.names())


def test_identity_input_gets_the_source_embedding():
    spec = IDENTITY_FUSION_SPEC
    samples = build_samples(spec, tiny_tiers(stride=4), CalibrationConfig(size=12, aspects=(1.0,),
                                                                          held_out_size=4),
                            split="held_out")
    identities = [sample.feed["identity"] for sample in samples]
    assert all(v.shape == (1, 128) and abs(np.linalg.norm(v) - 1) < 1e-4 for v in identities)
    faces = [v for v, s in zip(identities, samples) if _image_of(s) == "grace_hopper"]
    assert faces and all(np.array_equal(faces[0], v) for v in faces)  # one source, one identity


def test_too_small_a_set_is_refused(calibration_bundle_template):
    bundle = calibration_bundle_template
    with pytest.raises(FuseTrtError, match="cannot cover 3 tiers"):
        build_samples(bundle.spec, bundle.tiers, CalibrationConfig(size=5))


def test_original_shapes_route_to_their_tier(calibration_bundle_template):
    tiers = calibration_bundle_template.tiers
    rng = np.random.default_rng(0)
    for tier in tiers:
        for aspect in (0.5, 0.75, 1.0, 1.5, 2.0):
            for _ in range(20):
                assert tiers.plan(*original_shape(tier, aspect, rng)).tier == tier


def test_cache_round_trip_and_reuse(calibration_bundle_template, tiny_samples, tmp_path):
    bundle = calibration_bundle_template
    path = save_samples(tmp_path / "set.npz", tiny_samples)
    loaded = load_samples(path)
    assert [(s.name, s.tier) for s in loaded] == [(s.name, s.tier) for s in tiny_samples]
    np.testing.assert_array_equal(loaded[3].feed["mask"], tiny_samples[3].feed["mask"])
    cached = cache_path(tmp_path, bundle.spec, bundle.tiers, TINY_CONFIG, "calibration")
    save_samples(cached, tiny_samples[:1])  # a planted file proves the cache is read
    assert len(cached_samples(tmp_path, bundle.spec, bundle.tiers, TINY_CONFIG)) == 1


def test_unreadable_cache_is_a_user_error(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not an npz")
    with pytest.raises(FuseTrtError, match="not a readable calibration set"):
        load_samples(path)
