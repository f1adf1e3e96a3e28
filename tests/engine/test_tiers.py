import logging

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse_trt.engine.tiers import DEFAULT_TIERS, TierTable

sizes = st.integers(min_value=1, max_value=8000)


@settings(max_examples=3000, deadline=None)
@given(height=sizes, width=sizes)
def test_every_shape_lands_in_exactly_one_tier_inside_its_profile(height, width):
    matches = [tier for tier in DEFAULT_TIERS if tier.accepts(min(height, width))]
    assert len(matches) == 1
    plan = DEFAULT_TIERS.plan(height, width)
    assert plan.tier is matches[0]
    planned_h, planned_w = plan.planned_shape
    assert plan.tier.contains(planned_h, planned_w)
    assert planned_h % DEFAULT_TIERS.stride == 0 and planned_w % DEFAULT_TIERS.stride == 0
    assert plan.scaled_shape[0] <= planned_h and plan.scaled_shape[1] <= planned_w


def ramp(height, width, channels):
    """A smooth float image: x + 2y per channel, so resizing keeps it nearly intact."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    plane = cols / max(width - 1, 1) + 2.0 * rows / max(height - 1, 1)
    return np.dstack([plane + channel for channel in range(channels)])


@settings(max_examples=150, deadline=None)
@given(height=st.integers(1, 1400), width=st.integers(1, 1400), channels=st.sampled_from([1, 3]))
def test_plan_then_undo_returns_original_size(height, width, channels):
    image = ramp(height, width, channels)
    plan = DEFAULT_TIERS.plan(height, width)
    planned = plan.apply(image)
    assert planned.shape == (*plan.planned_shape, channels)
    restored = plan.undo(planned)
    assert restored.shape == image.shape
    if plan.scaled_shape == plan.original_shape:
        np.testing.assert_array_equal(restored, image)  # padding only: exact
    else:  # scaled and back: a smooth ramp (values 0..3 + c) comes back within interpolation
        assert np.abs(restored - image).mean() < 0.02


def test_padding_reflects_the_image_hand_computed():
    tiers = TierTable.from_short_edges((4, 8), stride=4)
    image = np.array([[1, 2, 3], [4, 5, 6]], np.uint8)
    plan = tiers.plan(2, 3)
    assert plan.planned_shape == (4, 4)
    np.testing.assert_array_equal(plan.apply(image), [[1, 2, 3, 3],
                                                      [4, 5, 6, 6],
                                                      [4, 5, 6, 6],
                                                      [1, 2, 3, 3]])


@pytest.mark.parametrize("shape", [(300, 400), (100, 3000), (700, 1000)])
def test_pad_contents_mirror_the_image(shape):
    """Rows and columns past the image repeat it mirrored (edge pixel included), as np.pad's
    "symmetric" mode computes independently of OpenCV."""
    image = np.random.default_rng(1).integers(0, 255, (*shape, 3), np.uint8)
    plan = DEFAULT_TIERS.plan(*shape)
    planned = plan.apply(image)
    resized = image
    if plan.scaled_shape != plan.original_shape:
        resized = cv2.resize(image, plan.scaled_shape[::-1], interpolation=cv2.INTER_AREA)
    pad_h, pad_w = plan.pad_bottom_right
    assert pad_h > 0 or pad_w > 0
    expected = np.pad(resized, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
    np.testing.assert_array_equal(planned, expected)


@pytest.mark.parametrize(("shape", "tier", "planned"), [
    ((300, 400), "512", (512, 512)),       # small: reflect-padded, no interpolation
    ((511, 700), "512", (512, 704)),
    ((512, 640), "768", (768, 960)),       # 512..1023 scaled to short edge 768
    ((1080, 1920), "1024", (1024, 1824)),  # >= 1024 scaled down to 1024
    ((100, 3000), "512", (512, 1024)),     # extreme aspect: long edge capped at 2x
])
def test_seed_rule_examples(shape, tier, planned):
    plan = DEFAULT_TIERS.plan(*shape)
    assert (plan.tier.name, plan.planned_shape) == (tier, planned)


def test_small_image_is_padded_not_interpolated():
    image = np.arange(300 * 400 * 3, dtype=np.uint32).reshape(300, 400, 3).astype(np.uint8)
    plan = DEFAULT_TIERS.plan(300, 400)
    planned = plan.apply(image)
    assert np.array_equal(planned[:300, :400], image)
    assert np.array_equal(plan.undo(planned), image)


def test_largest_tier_logs_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="fuse_trt"):
        DEFAULT_TIERS.plan(2000, 3000)
    assert "above the largest tier" in caplog.text


def test_table_round_trips_through_json():
    assert TierTable.from_json(DEFAULT_TIERS.to_json()) == DEFAULT_TIERS


def test_tier_edges_must_be_stride_multiples():
    with pytest.raises(ValueError, match="multiples of stride"):
        TierTable.from_short_edges((500, 768), stride=16)


def test_table_length_and_the_default_batch():
    from fuse_trt.engine.tiers import TierSpec

    assert len(DEFAULT_TIERS) == 3 and [t.max_batch for t in DEFAULT_TIERS] == [4, 4, 4]
    tier = TierSpec("x", 32, 0, None, False, (32, 32), (32, 32), (64, 64))
    assert tier.batch_shapes()["max"] == (4, 64, 64)
