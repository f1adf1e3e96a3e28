"""The audited reduced-precision build steps: measure the FP32 graph at each tier's max shape,
keep FP32 what the rules and the measurements say, and refuse a graph that still types a
tensor as float16 beyond the bound. The report goes into the artifact's manifest details.

Audit samples come from ``BuildConfig.range_samples`` (the CLI injects the bundled face photos
through the inference face path: ``fuse_trt.calibration.range_samples``); without it, one
synthetic feed per tier with a face-sized mask.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import onnx

from fuse_trt.build_engine.fp16_onnx import convert_fp16, fp32_rules, save_model_atomic
from fuse_trt.build_engine.range_audit import (DEFAULT_BOUND, RangeReport, TierRanges,
                                               audit_reduced, float_tensors, measure_tiers,
                                               report_for, synthetic_samples)
from fuse_trt.engine.bundle import Bundle

log = logging.getLogger("fuse_trt")

RangeSamples = Callable  # (ModelSpec, TierTable) -> {tier name: [feed at the tier's max shape]}


def measure_bundle(bundle: Bundle, samples: RangeSamples | None) -> tuple[onnx.ModelProto,
                                                                          list[TierRanges]]:
    fp32 = onnx.load(str(bundle.artifact_path("onnx", "fp32")))
    feeds = (samples or synthetic_samples)(bundle.spec, bundle.tiers)
    return fp32, measure_tiers(fp32, feeds)


def audited_fp16(bundle: Bundle, dst: Path, samples: RangeSamples | None = None,
                 bound: float = DEFAULT_BOUND, keep_io_types: bool = True) -> dict:
    """Write the FP16 ONNX to ``dst`` only if its audit passes; returns the manifest details."""
    fp32, measured = measure_bundle(bundle, samples)
    kept = fp32_rules(fp32, measured, bound)
    reduced = convert_fp16(fp32, kept, keep_io_types)
    report = audit_reduced(fp32, reduced, Path(dst).name, measured, bound).check()
    save_model_atomic(reduced, dst)
    log.info("FP16 ONNX %s: %d float16 tensors inside %g, %d nodes kept FP32", dst,
             report.to_json()["tensors"], bound, len(kept))
    return {"range_audit": report.to_json(), "fp32_nodes": kept}


def weakly_typed_fp32_layers(bundle: Bundle, samples: RangeSamples | None = None,
                             bound: float = DEFAULT_BOUND) -> tuple[dict[str, str], RangeReport]:
    """{ONNX node or its output tensor: why} to pin to FP32 in a weakly typed FP16 build, and
    the audit of the rest.

    TensorRT may run any unpinned layer in FP16, so every float tensor not made by a pinned
    node is audited."""
    fp32, measured = measure_bundle(bundle, samples)
    kept = fp32_rules(fp32, measured, bound)
    pinned_outputs = {out for node in fp32.graph.node if node.name in kept for out in node.output}
    audited = {name: op for name, op in float_tensors(fp32).items() if name not in pinned_outputs}
    report = report_for("the weakly typed FP16 plan", measured, audited, bound).check()
    by_output = {out: kept[node.name] for node in fp32.graph.node if node.name in kept
                 for out in node.output}
    return {**kept, **by_output}, report


def audit_qdq(bundle: Bundle, qdq_path: Path, samples: RangeSamples | None = None,
              bound: float = DEFAULT_BOUND) -> RangeReport:
    """The Q/DQ ONNX (TensorRT 11): what runs between quantized layers has the ONNX's float
    type; every tensor it types as float16 must fit."""
    fp32, measured = measure_bundle(bundle, samples)
    reduced = onnx.load(str(qdq_path))
    return audit_reduced(fp32, reduced, Path(qdq_path).name, measured, bound).check()
