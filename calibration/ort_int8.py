"""CPU INT8 for ONNX Runtime: static QDQ quantization, gated against FP32, into the bundle.

``build_ort_int8`` is what `fuse-trt build --backend onnxruntime --precision int8` runs. The
INT8 file is written under a temporary name, gated, and only then renamed and recorded, so a
failed gate leaves the bundle as it was.
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from fuse_trt.calibration.cache import cached_samples
from fuse_trt.calibration.dataset import CalibrationSample
from fuse_trt.calibration.gate import GateConfig, GateReport, compare, enforce
from fuse_trt.calibration.options import Int8Options
from fuse_trt.calibration.planar_resize import rewrite_file
from fuse_trt.calibration.quantize import (check_keep_fp, collect_ranges, edge_conv_names,
                                           quantize_with_ranges)
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind, BackendName, Precision
from fuse_trt.engine.progress import PROGRESS_LOGGER, phase, progress_bar
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierTable
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend

log = logging.getLogger("fuse_trt")
progress_log = logging.getLogger(PROGRESS_LOGGER)

INT8_ONNX_NAME = "model.int8.onnx"


def single_batch(tiers: TierTable) -> TierTable:
    """The same tiers with a batch range of 1 (the gate and benchmarks feed one image)."""
    return replace(tiers, tiers=tuple(replace(tier, max_batch=1, opt_batch=1) for tier in tiers))


def gate_onnx(fp32_path: Path, int8_path: Path, spec: ModelSpec, tiers: TierTable,
              samples: list[CalibrationSample], config: GateConfig = GateConfig()) -> GateReport:
    """The gate with both models on ONNX Runtime (CPU); buffers sized for batch 1 only."""
    tiers = single_batch(tiers)
    with OnnxRuntimeBackend(fp32_path, spec, tiers) as reference, \
            OnnxRuntimeBackend(int8_path, spec, tiers, precision="int8") as candidate:
        return compare(reference, candidate, samples, config)


def quantize_and_gate(bundle: Bundle, file_name: str, options: Int8Options,
                      check: Callable[[Path], None] | None = None,
                      rewrite: Callable[[Path], object] | None = None
                      ) -> tuple[Path, GateReport]:
    """Quantize the bundle's FP32 ONNX into ``file_name``, ``rewrite`` the quantized file in
    place, and keep it if it passes ``check`` and the gate."""
    fp32_path = bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32)
    spec, tiers = bundle.spec, bundle.tiers
    check_keep_fp(fp32_path, options.quantize.keep_fp)  # before any of the long steps
    with phase("INT8 calibration and held-out sets"):
        samples = cached_samples(options.cache_dir, spec, tiers, options.calibration,
                                 "calibration", progress_bar("calibration set"))
        held_out = cached_samples(options.cache_dir, spec, tiers, options.calibration,
                                  "held_out", progress_bar("held-out set"))
    final_path = bundle.directory / file_name
    temp_path = bundle.directory / f".{file_name}.tmp"
    try:
        with tempfile.TemporaryDirectory(prefix="fuse-trt-ranges.") as scratch:
            with phase(f"INT8 calibration: activation ranges on {len(samples)} samples"):
                ranges = collect_ranges(fp32_path, Path(scratch) / "ranges.json", samples,
                                        spec.input_names, options.quantize,
                                        progress_bar("calibrating"))
            with phase(f"INT8 quantization ({options.quantize.int8_ops})"):
                quantize_with_ranges(fp32_path, temp_path, ranges, options.quantize)
        if rewrite is not None:
            rewrite(temp_path)
        if check is not None:
            check(temp_path)
        with phase(f"INT8 accuracy gate on {len(held_out)} held-out samples"):
            report = gate_onnx(fp32_path, temp_path, spec, tiers, held_out, options.gate)
        log_gate(report)
        enforce(report, file_name, edge_conv_names(fp32_path))
        os.replace(temp_path, final_path)
    finally:
        temp_path.unlink(missing_ok=True)
    return final_path, report


def log_gate(report: GateReport) -> None:
    """The gate's verdict on the progress lines, passed or not (the CLI prints them)."""
    for tier in report.tiers:
        ratio = tier.residual_ratio
        progress_log.info("INT8 gate tier %s: worst PSNR %s dB, max |diff| %.3g, residual "
                          "ratio %s", tier.tier, "inf" if math.isinf(tier.psnr_db) else
                          f"{tier.psnr_db:.1f}", tier.max_abs_diff,
                          "n/a" if ratio is None else f"{ratio:.4f}")
    progress_log.info("INT8 gate: %s", "passed" if report.passed else "FAILED")


def artifact_details(options: Int8Options, report: GateReport, fp32_path: Path) -> dict:
    """What the manifest records: the quantization, which nodes stay FP32 and why, the gate."""
    return {**options.quantize.describe(), **options.quantize.scope(fp32_path).describe(),
            "calibration": asdict(options.calibration), "gate": report.to_json()}


def build_ort_int8(bundle: Bundle, options: Int8Options = Int8Options()) -> Bundle:
    """Add ``model.int8.onnx`` (kind onnx, precision int8) to the bundle."""
    path, report = quantize_and_gate(bundle, INT8_ONNX_NAME, options, rewrite=rewrite_file)
    log.info("INT8 model %s passed the gate", path)
    details = artifact_details(options, report, bundle.artifact_path(ArtifactKind.ONNX,
                                                                      Precision.FP32))
    with phase(f"INT8 writing {path.name} into the manifest"):
        return bundle.add_artifact(path, ArtifactKind.ONNX, Precision.INT8,
                                   backend=BackendName.ONNXRUNTIME, details=details)
