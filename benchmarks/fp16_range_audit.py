"""The FP16 range audit of a bundle's model at each tier's max shape, as a markdown table.

    python benchmarks/fp16_range_audit.py [--bundle DIR] [--out benchmarks/fp16_range_audit.md]

Runs the FP32 ONNX on the range-audit samples (the bundled face photos through the inference
face path, plus one natural image with a large synthetic face mask) at each tier's max shape,
and lists every tensor that the FP16 ONNX types as float16 with its largest magnitude. With
``--plain`` the FP16 ONNX is made by the converter alone (no FP32 block list), as before
issue 18.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import onnx

from fuse_trt.build_engine.fp16_onnx import convert_fp16, fp32_rules
from fuse_trt.build_engine.range_audit import DEFAULT_BOUND, audit_reduced, measure_tiers
from fuse_trt.calibration.range_samples import PhotoRangeSamples
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.tiers import TierTable
from fuse_trt.models import default_bundle_dir


def square_tiers(tiers: TierTable) -> TierTable:
    """Each tier's max shape as the square of its short edge (the face-region profiles)."""
    return replace(tiers, tiers=tuple(replace(t, max_shape=(t.short_edge, t.short_edge))
                                      for t in tiers))


def audit_table(bundle_dir: Path, plain: bool, rows: int, square: bool) -> str:
    bundle = Bundle.load(bundle_dir)
    fp32 = onnx.load(str(bundle.artifact_path("onnx", "fp32")))
    tiers = square_tiers(bundle.tiers) if square else bundle.tiers
    measured = measure_tiers(fp32, PhotoRangeSamples()(bundle.spec, tiers))
    blocked = {} if plain else fp32_rules(fp32, measured)
    report = audit_reduced(fp32, convert_fp16(fp32, blocked), "model.fp16.onnx", measured)
    lines = [f"FP16 range audit of {bundle_dir.name} ({'converter only' if plain else 'with the FP32 block list'}),"
             f" bound {DEFAULT_BOUND:g}, samples per tier {report.samples}, shapes {report.shapes}", ""]
    for tier in report.shapes:
        count = sum(r.tier == tier for r in report.over())
        lines.append(f"- tier {tier}: {count} float16 tensors over the bound")
    lines += ["", f"FP32 nodes kept by rule: {len(blocked)}", "",
              "| tensor | op | tier | max abs |", "|---|---|---|---|"]
    shown = report.over() or report.largest(rows)
    for entry in shown[:rows]:
        lines.append(f"| {entry.tensor} | {entry.op} | {entry.tier} | {entry.max_abs:.4g} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=default_bundle_dir())
    parser.add_argument("--out", type=Path)
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--square", action="store_true",
                        help="audit each tier at the square of its short edge")
    args = parser.parse_args()
    table = audit_table(args.bundle, args.plain, args.rows, args.square)
    if args.out:
        args.out.write_text(table)
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
