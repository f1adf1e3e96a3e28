"""The accuracy gate's numbers on hand-made outputs: PSNR, max diff, residual ratio."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fuse_trt.calibration.dataset import CalibrationSample
from fuse_trt.calibration.gate import GateConfig, TierAccuracy, compare, enforce
from fuse_trt.engine.spec import FUSION_SPEC
from fuse_trt.engine.errors import AccuracyGateError
from fuse_trt.runtime.protocol import Backend, BackendMemory
from tests.conftest import tiny_tiers


class ShiftBackend(Backend):
    """fused = composite + residual inside the mask (+ error everywhere)."""

    def __init__(self, residual: float, error: float = 0.0):
        super().__init__(FUSION_SPEC, tiny_tiers())
        self.residual, self.error = residual, error

    def _activate_impl(self):
        pass

    def _infer_impl(self, tier, feed):
        fused = feed["composite"] + self.residual * feed["mask"] + self.error
        return {"fused": fused.astype(np.float32)}

    def _memory_impl(self):
        return BackendMemory()

    def _close_impl(self):
        pass


def _sample(tier: str, size: int) -> CalibrationSample:
    rng = np.random.default_rng(size)
    mask = np.zeros((1, 1, size, size), np.float32)
    mask[..., size // 4:3 * size // 4, size // 4:3 * size // 4] = 1.0
    feed = {"composite": rng.uniform(0.2, 0.6, (1, 3, size, size)).astype(np.float32),
            "mask": mask, "context": np.zeros((1, 3, size, size), np.float32)}
    return CalibrationSample.from_feed(f"synthetic/{tier}", tier, feed)


SAMPLES = [_sample("32", 32), _sample("48", 48), _sample("64", 64)]


def _report(reference, candidate, config=GateConfig(), samples=SAMPLES):
    with reference, candidate:
        return compare(reference, candidate, samples, config)


def test_psnr_max_diff_and_residual_ratio_per_tier():
    report = _report(ShiftBackend(0.02), ShiftBackend(0.02, error=0.01))
    assert [tier.tier for tier in report.tiers] == ["32", "48", "64"]
    for tier in report.tiers:
        assert tier.psnr_db == pytest.approx(40.0, abs=1e-3)  # MSE 1e-4
        assert tier.max_abs_diff == pytest.approx(0.01, rel=1e-4)
        assert tier.residual_ratio == pytest.approx(0.5, rel=1e-4)  # 0.01 of a 0.02 change
    assert report.passed and report.to_json()["tiers"]["48"]["residual_ratio"] == 0.5


def test_high_psnr_can_still_undo_the_model():
    """PSNR alone hides it: 46 dB, yet the error is larger than the model's correction."""
    report = _report(ShiftBackend(0.003), ShiftBackend(0.003, error=0.005))
    tier = report.tiers[0]
    assert tier.psnr_db > 45 and tier.residual_ratio > 1
    assert not report.passed
    with pytest.raises(AccuracyGateError, match=r"residual ratio 1\.67 > 1"):
        enforce(report, "model.int8.onnx", ["/first/Conv", "/last/Conv"])


def test_identity_model_has_no_residual_ratio_and_identical_is_infinite_psnr():
    report = _report(ShiftBackend(0.0), ShiftBackend(0.0))
    assert all(t.residual_ratio is None and math.isinf(t.psnr_db) for t in report.tiers)
    assert report.passed
    assert report.to_json()["tiers"]["32"]["psnr_db"] is None


def test_failure_message_lists_failing_tiers_and_suggests_keep_fp():
    report = _report(ShiftBackend(0.1), ShiftBackend(0.1, error=0.05),
                     GateConfig(min_psnr_db=35.0, max_residual_ratio=None))
    with pytest.raises(AccuracyGateError) as failure:
        enforce(report, "model.int8.onnx", ["/enc/Conv", "/head/Conv"])
    message = str(failure.value)
    assert "tier 32: 26.0 dB < 35 dB" in message and "tier 64:" in message
    assert "--keep-fp /enc/Conv,/head/Conv" in message and "--int8-ops Conv" in message


def _accuracy(psnr_db, mean_abs_error=0.001, mean_residual=0.01):
    return TierAccuracy("32", 1, psnr_db, 0.01, mean_abs_error, mean_residual)


def test_the_thresholds_themselves_pass():
    config = GateConfig(min_psnr_db=35.0, max_residual_ratio=0.5)
    assert _accuracy(35.0, mean_abs_error=0.005).failures(config) == []  # ratio exactly 0.5
    assert _accuracy(34.99).failures(config) == ["35.0 dB < 35 dB"]
    assert _accuracy(40.0, mean_abs_error=0.00501).failures(config) == ["residual ratio 0.50 > 0.5"]
    assert _accuracy(40.0, mean_residual=0.99e-5).residual_ratio is None  # under MIN_RESIDUAL


def test_an_empty_mask_weighs_every_pixel_the_same():
    """An empty mask: plain mean and MSE over the whole output, as computed by hand."""
    feed = {**SAMPLES[0].feed, "mask": np.zeros_like(SAMPLES[0].feed["mask"])}
    report = _report(ShiftBackend(0.0), ShiftBackend(0.0, error=0.01),
                     samples=[CalibrationSample("synthetic/flat", "32", feed)])
    [tier] = report.tiers
    assert tier.psnr_db == pytest.approx(40.0, abs=1e-3)  # MSE 1e-4 everywhere
    assert tier.mean_abs_error == pytest.approx(0.01, rel=1e-4)


def test_reports_and_configs_are_frozen():
    import dataclasses

    report = _report(ShiftBackend(0.02), ShiftBackend(0.02, error=0.01))
    for value, field in ((report, "tiers"), (report.tiers[0], "psnr_db"), (GateConfig(), "min_psnr_db")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)


def test_the_residual_floor_is_1e_5_inclusive():
    assert _accuracy(40.0, mean_abs_error=3e-6, mean_residual=1e-5).residual_ratio == \
        pytest.approx(0.3)  # exactly at the floor: defined
    assert _accuracy(40.0, mean_abs_error=3e-6, mean_residual=1.5e-5).residual_ratio == \
        pytest.approx(0.2)


def test_report_json_rounds_to_documented_places_by_hand():
    tier = TierAccuracy("48", 2, 41.23456, 0.12345678, 0.00123456, 0.01)
    data = tier.to_json()
    assert (data["psnr_db"], data["max_abs_diff"], data["mean_abs_error"]) == \
        (41.23, 0.123457, 0.001235)
    assert (data["mean_residual"], data["residual_ratio"]) == (0.01, 0.1235)  # 0.123456
    assert (data["tier"], data["samples"]) == ("48", 2)


def test_samples_are_counted_per_tier():
    samples = [SAMPLES[0], SAMPLES[0], SAMPLES[1]]
    report = _report(ShiftBackend(0.02), ShiftBackend(0.02, error=0.01), samples=samples)
    assert [(tier.tier, tier.samples) for tier in report.tiers] == [("32", 2), ("48", 1)]


def test_a_faint_mask_still_weighs_the_pixels():
    """A mask summing to 0.5 (one pixel at 0.5) weighs that pixel alone: an error elsewhere
    does not count. An empty mask would weigh every pixel."""
    feed = dict(SAMPLES[0].feed)
    faint = np.zeros_like(feed["mask"])
    faint[..., 0, 0] = 0.5
    feed["mask"] = faint

    class ErrorAwayFromTheMask(ShiftBackend):
        def _infer_impl(self, tier, feed):
            fused = feed["composite"].copy()
            fused[..., 5, 5] += 0.1
            return {"fused": fused}

    report = _report(ShiftBackend(0.0), ErrorAwayFromTheMask(0.0),
                     samples=[CalibrationSample("synthetic/faint", "32", feed)])
    [tier] = report.tiers
    assert tier.mean_abs_error == pytest.approx(0.0, abs=1e-9)
    assert tier.max_abs_diff == pytest.approx(0.1, rel=1e-5)
