"""The accuracy gate: an INT8 artifact against the FP32 model on held-out samples, per tier.

Three numbers per tier: PSNR of the fused face region (mask-weighted; the worst sample),
the max abs difference over the whole output, and the residual ratio
``mean |int8 - fp32| / mean |fp32 - composite|`` inside the mask. The ratio is what PSNR hides:
the UNet changes its input only a little, so an INT8 error can score well in dB and still be
larger than the whole correction the model makes (ratio > 1: the model's work is undone).
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np

from fuse_trt.calibration.dataset import CalibrationSample
from fuse_trt.engine.errors import AccuracyGateError
from fuse_trt.engine.progress import bar
from fuse_trt.runtime.protocol import Backend

log = logging.getLogger("fuse_trt")

COMPOSITE_INPUT = "composite"  # the input the UNet's output is a refinement of
MASK_INPUT = "mask"
# Mean residuals below this (far under one 8-bit level) mean the FP32 model returns its input,
# e.g. the initial weights: the ratio is then undefined and not gated.
MIN_RESIDUAL = 1e-5


@dataclass(frozen=True)
class GateConfig:
    min_psnr_db: float = 35.0
    max_residual_ratio: float | None = 1.0  # None: report only


@dataclass(frozen=True)
class TierAccuracy:
    tier: str
    samples: int
    psnr_db: float  # worst sample; inf when identical
    max_abs_diff: float
    mean_abs_error: float  # mask-weighted mean |int8 - fp32|
    mean_residual: float  # mask-weighted mean |fp32 - composite|

    @property
    def residual_ratio(self) -> float | None:
        if self.mean_residual < MIN_RESIDUAL:
            return None
        return self.mean_abs_error / self.mean_residual

    def failures(self, config: GateConfig) -> list[str]:
        found = []
        if self.psnr_db < config.min_psnr_db:
            found.append(f"{self.psnr_db:.1f} dB < {config.min_psnr_db:g} dB")
        ratio = self.residual_ratio
        if config.max_residual_ratio is not None and ratio is not None \
                and ratio > config.max_residual_ratio:
            found.append(f"residual ratio {ratio:.2f} > {config.max_residual_ratio:g}")
        return found

    def to_json(self) -> dict:
        data = {key: (round(value, 6) if isinstance(value, float) else value)
                for key, value in asdict(self).items()}
        data["psnr_db"] = None if math.isinf(self.psnr_db) else round(self.psnr_db, 2)
        ratio = self.residual_ratio
        data["residual_ratio"] = None if ratio is None else round(ratio, 4)
        return data


@dataclass(frozen=True)
class GateReport:
    tiers: tuple[TierAccuracy, ...]
    config: GateConfig

    @property
    def failing(self) -> list[tuple[TierAccuracy, list[str]]]:
        return [(tier, tier.failures(self.config)) for tier in self.tiers
                if tier.failures(self.config)]

    @property
    def passed(self) -> bool:
        return not self.failing

    def to_json(self) -> dict:
        """psnr_db None: identical outputs; residual_ratio None: FP32 changes nothing."""
        return {"passed": self.passed, "config": asdict(self.config),
                "tiers": {tier.tier: tier.to_json() for tier in self.tiers}}


@dataclass
class _Totals:
    samples: int = 0
    worst_mse: float = 0.0
    max_abs: float = 0.0
    error_sum: float = 0.0
    residual_sum: float = 0.0
    weight_sum: float = 0.0


def _accumulate(totals: _Totals, sample: CalibrationSample, reference: np.ndarray,
                candidate: np.ndarray) -> None:
    mask = sample.feed.get(MASK_INPUT)
    weight = np.ones_like(reference[:, :1]) if mask is None or mask.sum() <= 0 else mask
    difference = np.abs(candidate.astype(np.float64) - reference)
    channels = reference.shape[1]
    weight_total = float(weight.sum()) * channels
    totals.samples += 1
    totals.worst_mse = max(totals.worst_mse, float((weight * difference ** 2).sum()) / weight_total)
    totals.max_abs = max(totals.max_abs, float(difference.max()))
    totals.error_sum += float((weight * difference).sum())
    composite = sample.feed.get(COMPOSITE_INPUT)
    if composite is not None:
        totals.residual_sum += float((weight * np.abs(reference - composite)).sum())
    totals.weight_sum += weight_total


def _tier_accuracy(name: str, totals: _Totals) -> TierAccuracy:
    psnr = math.inf if totals.worst_mse == 0 else 10.0 * math.log10(1.0 / totals.worst_mse)
    return TierAccuracy(tier=name, samples=totals.samples, psnr_db=psnr,
                        max_abs_diff=totals.max_abs,
                        mean_abs_error=totals.error_sum / totals.weight_sum,
                        mean_residual=totals.residual_sum / totals.weight_sum)


def compare(reference: Backend, candidate: Backend, samples: list[CalibrationSample],
            config: GateConfig = GateConfig()) -> GateReport:
    """Run every sample through both active backends and score the candidate per tier."""
    output = reference.spec.output_names[0]
    totals: dict[str, _Totals] = {}
    with bar(len(samples), "INT8 gate") as progress:
        for sample in samples:
            expected = reference.infer(sample.tier, sample.feed)[output]
            actual = candidate.infer(sample.tier, sample.feed)[output]
            _accumulate(totals.setdefault(sample.tier, _Totals()), sample, expected, actual)
            progress.update(1)
    order = [tier.name for tier in reference.tiers if tier.name in totals]
    report = GateReport(tuple(_tier_accuracy(name, totals[name]) for name in order), config)
    for tier in report.tiers:
        log.info("gate tier %s: %s", tier.tier, tier.to_json())
    return report


def enforce(report: GateReport, artifact: str, keep_fp_hint: list[str]) -> None:
    """Raise AccuracyGateError naming every failing tier and what to try next."""
    if report.passed:
        return
    lines = "; ".join(f"tier {tier.tier}: {', '.join(reasons)} (max |diff| "
                      f"{tier.max_abs_diff:.3g})" for tier, reasons in report.failing)
    hint = f"--keep-fp {','.join(keep_fp_hint)}" if keep_fp_hint else "--keep-fp NODE,..."
    raise AccuracyGateError(
        f"{artifact} failed the INT8 accuracy gate against FP32 on held-out images: {lines}. "
        f"Keep sensitive nodes in higher precision ({hint}), quantize fewer op types "
        f"(--int8-ops Conv), or lower the threshold (--gate-psnr)")
