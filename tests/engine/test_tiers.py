import logging

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse_trt.engine.errors import ConfigError
from fuse_trt.engine.tiers import DEFAULT_TIERS, TierTable

sizes = st.integers(min_value=1, max_value=8000)
FRAME_TIERS = TierTable.from_short_edges(region="frame")


@settings(max_examples=3000, deadline=None)
@given(height=sizes, width=sizes, region=st.sampled_from(["face", "frame"]))
def test_every_shape_lands_in_exactly_one_tier_inside_its_profile(height, width, region):
    table = DEFAULT_TIERS if region == "face" else FRAME_TIERS
    matches = [tier for tier in table if tier.accepts(min(height, width))]
    assert len(matches) == 1
    plan = table.plan(height, width)
    assert plan.tier is matches[0]
    planned_h, planned_w = plan.planned_shape
    assert plan.tier.contains(planned_h, planned_w)
    assert planned_h % table.stride == 0 and planned_w % table.stride == 0
    assert plan.scaled_shape[0] <= planned_h and plan.scaled_shape[1] <= planned_w
    assert planned_h == plan.tier.short_edge  # landscape (or square) at the tier's short edge
    assert plan.transposed == (region == "frame" and height > width)


def test_profiles_are_no_larger_than_what_the_planner_sends():
    """Face tiers are exactly (S, S); frame tiers (S, S)..(S, 16/9 S), both orientations."""
    for tier in DEFAULT_TIERS:
        edge = tier.short_edge
        assert tier.min_shape == tier.max_shape == (edge, edge)
    for tier, landscape in zip(FRAME_TIERS, [(511, 910), (720, 1280), (2160, 3840)]):
        edge = tier.short_edge
        long_edge = -(-edge * 16 // 9 // 16) * 16
        assert tier.max_shape == (edge, long_edge)
        assert FRAME_TIERS.plan(*landscape).planned_shape == tier.max_shape
        assert FRAME_TIERS.plan(*landscape[::-1]).planned_shape == tier.max_shape


def ramp(height, width, channels):
    """A smooth float image: x + 2y per channel, so resizing keeps it nearly intact."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    plane = cols / max(width - 1, 1) + 2.0 * rows / max(height - 1, 1)
    return np.dstack([plane + channel for channel in range(channels)])


@settings(max_examples=150, deadline=None)
@given(height=st.integers(1, 1400), width=st.integers(1, 1400), channels=st.sampled_from([1, 3]),
       region=st.sampled_from(["face", "frame"]))
def test_plan_then_undo_returns_original_size(height, width, channels, region):
    image = ramp(height, width, channels)
    plan = (DEFAULT_TIERS if region == "face" else FRAME_TIERS).plan(height, width)
    planned = plan.apply(image)
    assert planned.shape == (*plan.planned_shape, channels)
    restored = plan.undo(planned)
    assert restored.shape == image.shape
    if plan.scaled_shape == plan.original_shape:
        np.testing.assert_array_equal(restored, image)  # padding only: exact
    elif min(plan.scaled_shape) >= 16:  # scaled and back: a smooth ramp (values 0..3 + c)
        assert np.abs(restored - image).mean() < 0.02  # comes back within interpolation


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


@pytest.mark.parametrize(("region", "shape", "tier", "scaled", "planned"), [
    ("face", (300, 400), "512", (300, 400), (512, 512)),      # small: padded, no interpolation
    ("face", (511, 511), "512", (511, 511), (512, 512)),
    ("face", (511, 700), "512", (374, 512), (512, 512)),      # not square: long edge fitted
    ("face", (768, 768), "768", (768, 768), (768, 768)),      # 512..1023 scaled to 768
    ("face", (1500, 1500), "1024", (1024, 1024), (1024, 1024)),  # >= 1024 scaled down
    ("frame", (1080, 1920), "1024", (1024, 1820), (1024, 1824)),
    ("frame", (1920, 1080), "1024", (1024, 1820), (1024, 1824)),  # portrait: transposed
    ("frame", (512, 640), "768", (768, 960), (768, 960)),
    ("frame", (100, 3000), "512", (30, 912), (512, 912)),     # extreme aspect: capped at 16:9
])
def test_seed_rule_examples(region, shape, tier, scaled, planned):
    plan = TierTable.from_short_edges(region=region).plan(*shape)
    assert (plan.tier.name, plan.scaled_shape, plan.planned_shape) == (tier, scaled, planned)


def test_transposed_plan_round_trips_pixels():
    image = np.random.default_rng(1).integers(0, 255, (600, 400, 3), np.uint8)
    plan = FRAME_TIERS.plan(600, 400)
    planned = plan.apply(image)
    assert plan.transposed and planned.shape == (512, 608, 3)  # padded only, no resize
    assert np.array_equal(planned[:400, :600], image.swapaxes(0, 1))
    assert np.array_equal(plan.undo(planned), image)


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


def test_the_batch_range_must_hold_one_face():
    with pytest.raises(ConfigError, match="max_batch must be at least 1"):
        TierTable.from_short_edges((512,), max_batch=0)


def test_table_length_and_the_default_batch():
    from fuse_trt.engine.tiers import TierSpec

    assert len(DEFAULT_TIERS) == 3 and [t.max_batch for t in DEFAULT_TIERS] == [4, 4, 4]
    tier = TierSpec("x", 32, 0, None, False, (32, 32), (32, 32), (64, 64))
    assert tier.batch_shapes()["max"] == (4, 64, 64)


def test_profile_batch_bounds_and_a_hand_made_plan_by_hand():
    import dataclasses

    from fuse_trt.engine.tiers import TierPlan, TierSpec

    tier = TierSpec("x", 32, 0, None, False, (16, 32), (32, 32), (48, 64), opt_batch=2)
    assert tier.batch_shapes() == {"min": (1, 16, 32), "opt": (2, 32, 32), "max": (4, 48, 64)}
    assert tier.batch_shapes(3)["max"] == (3, 48, 64)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tier.max_batch = 8
    plan = TierPlan(tier, (2, 3), (2, 3), (4, 4))  # not transposed unless said
    for frozen, field in ((plan, "transposed"), (DEFAULT_TIERS, "stride")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(frozen, field, 1)
    image = np.array([[1, 2, 3], [4, 5, 6]], np.uint8)
    np.testing.assert_array_equal(plan.apply(image), [[1, 2, 3, 3], [4, 5, 6, 6],
                                                      [4, 5, 6, 6], [1, 2, 3, 3]])


def test_lookups_by_name_and_the_first_tier_limit():
    assert DEFAULT_TIERS.names() == ["512", "768", "1024"]
    assert DEFAULT_TIERS.by_name(768).short_edge == 768
    assert DEFAULT_TIERS.by_name("1024").name == "1024"
    with pytest.raises(KeyError, match="no tier '640'"):
        DEFAULT_TIERS.by_name("640")
    assert DEFAULT_TIERS.first_tier_limit == 511  # short edges below 512 land in the first
    assert TierTable.from_short_edges((512,)).first_tier_limit == 512  # a lone tier: its own
    assert [t.max_batch for t in TierTable.from_short_edges((512,), max_batch=1)] == [1]


def test_an_edge_that_scales_below_one_pixel_keeps_one():
    # 1x3000 into the 512 face tier: scale 512 / 3000 makes the short edge 0.17 px -> 1
    plan = DEFAULT_TIERS.plan(1, 3000)
    assert (plan.scaled_shape, plan.planned_shape) == ((1, 512), (512, 512))
