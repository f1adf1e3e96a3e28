"""Frames that land in each tier, phase splitting and the flatness verdict."""
import pytest

from fuse_trt.bench.stability import flat_verdict, phase_sizes, trend_mib
from fuse_trt.bench.workload import frame_edge_for_tier, tier_frames
from fuse_trt.engine.tiers import DEFAULT_TIERS


@pytest.mark.parametrize("edge, side", [(512, 511), (768, 768), (1024, 1024)])
def test_default_tiers_get_frames_at_their_short_edge(edge, side):
    tier = DEFAULT_TIERS.by_name(edge)
    assert frame_edge_for_tier(DEFAULT_TIERS, tier) == side
    plan = DEFAULT_TIERS.plan(side, side)
    assert plan.tier == tier and plan.planned_shape == (edge, edge)


def test_tiny_tier_frames_plan_to_the_model_shape(tiny_bundle):
    tiers = tiny_bundle.tiers
    frames = tier_frames(tiers, tiers.names())
    for name, item in frames.items():
        tier = tiers.by_name(name)
        assert item.frame.dtype.name == "uint8" and item.frame.ndim == 3
        assert tiers.plan(*item.frame.shape[:2]).planned_shape == tier.opt_shape
        assert item.frame.std() > 10  # a real photo, not a blank frame


def test_phases_are_whole_tier_cycles_and_cover_every_fusion():
    sizes = phase_sizes(1000, 10, 3)
    assert sum(sizes) == 1000 and len(sizes) <= 10
    assert all(size % 3 == 0 for size in sizes[:-1])
    assert phase_sizes(6, 10, 3) == [3, 3]
    assert phase_sizes(0, 10, 3) == []


def test_trend_by_hand():
    assert trend_mib([10, 20, 30], [100.0, 110.0, 120.0]) == 20.0  # 1 MiB per fusion x 20
    assert trend_mib([10, 20, 30], [100.0, 130.0, 100.0]) == 0.0
    assert trend_mib([10], [100.0]) == 0.0


def test_flat_verdict_by_hand():
    noisy = flat_verdict([3, 6, 9], [100.0, 130.0, 99.0], [300.0, 304.0, 301.0], 8.0)
    assert noisy == {"flat": True, "max_drift_mib": 30.0, "peak_drift_mib": 4.0,
                     "trend_mib": -1.0}
    leaking = flat_verdict([3, 6, 9], [100.0, 110.0, 125.0], [300.0, 310.0, 325.0], 16.0)
    assert leaking["flat"] is False and leaking["trend_mib"] == 25.0
    assert leaking["peak_drift_mib"] == 25.0
    assert flat_verdict([], [], [], 1.0)["flat"] is None
