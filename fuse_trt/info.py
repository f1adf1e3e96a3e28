"""`fuse-trt info`: versions, backends, tiers and bundle contents as plain text."""
from __future__ import annotations

import platform
from pathlib import Path

from fuse_trt import __version__
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.tiers import TierTable
from fuse_trt.models import default_bundle_dir
from fuse_trt.runtime.select import available_backends


def tier_table_lines(tiers: TierTable) -> list[str]:
    lines = ["tiers (short edge: accepts, profile min/opt/max HxW, batch):"]
    for tier in tiers:
        upper = f"<{tier.accepts_below}" if tier.accepts_below else "and up"
        mode = "scale" if tier.scale_to_short_edge else "pad"
        lines.append(f"  {tier.name}: short edge {tier.accepts_from} {upper} ({mode}), "
                     f"{tier.min_shape} / {tier.opt_shape} / {tier.max_shape}, "
                     f"batch 1..{tier.max_batch}")
    return lines


def range_audit_lines(audit: dict | None) -> list[str]:
    """One line for an artifact's float16 range audit: counts, bound and the largest tensor."""
    if not audit:
        return []
    largest = audit["largest"][0] if audit["largest"] else None
    worst = (f"; largest {largest['tensor']} {float(largest['max_abs']):.4g} at tier {largest['tier']}"
             if largest else "")
    return [f"    range audit: {audit['tensors']} float16 tensors, {audit['over_bound']} over "
            f"{audit['bound']:g} at {audit['shapes']}{worst}"]


def describe(bundle_dir: Path | None) -> str:
    import onnxruntime

    bundle = Bundle.load(bundle_dir or default_bundle_dir())
    lines = [f"fuse-trt {__version__}, Python {platform.python_version()}, "
             f"onnxruntime {onnxruntime.__version__}",
             f"backends available: {', '.join(available_backends())}",
             f"bundle: {bundle.directory}",
             f"model: {bundle.spec.name} inputs "
             + ", ".join(f"{t.name}{t.describe()}" for t in bundle.spec.inputs)
             + " -> " + ", ".join(f"{t.name}{t.describe()}" for t in bundle.spec.outputs)
             + f", stride {bundle.spec.stride}, opset {bundle.spec.opset}"]
    lines += tier_table_lines(bundle.tiers)
    lines.append("artifacts:")
    for artifact in bundle.manifest.artifacts:
        lines.append(f"  {artifact.file}: {artifact.kind}, {artifact.precision}, "
                     f"backend {artifact.backend}, sha256 {artifact.sha256[:12]}")
        lines += range_audit_lines(artifact.details.get("range_audit"))
    return "\n".join(lines)
