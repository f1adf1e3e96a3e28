"""`fuse-trt info`: versions, backends, tiers, bundle contents and the memory plan."""
from __future__ import annotations

import json
import platform
from pathlib import Path

from fuse_trt import __version__
from fuse_trt.engine.activations import ActivationEstimator
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind, Precision
from fuse_trt.engine.memory_plan import BUDGET_PRECISION, MIB, MemoryPlan, memory_plan
from fuse_trt.engine_cache import describe_cache
from fuse_trt.engine.tiers import TierTable
from fuse_trt.models import default_bundle_dir
from fuse_trt.runtime.select import available_backends


def tier_table_lines(tiers: TierTable) -> list[str]:
    lines = [f"tiers ({tiers.region} regions; short edge: accepts, profile min/opt/max HxW, "
             f"batch):"]
    for tier in tiers:
        upper = f"<{tier.accepts_below}" if tier.accepts_below else "and up"
        mode = "scale" if tier.scale_to_short_edge else "pad"
        lines.append(f"  {tier.name}: short edge {tier.accepts_from} {upper} ({mode}), "
                     f"{tier.min_shape} / {tier.opt_shape} / {tier.max_shape}, "
                     f"batch 1..{tier.max_batch}")
    return lines


def bundle_memory_plan(bundle: Bundle, precision: str = BUDGET_PRECISION) -> MemoryPlan:
    """The plan of a bundle's tiers at ``precision``, from its fp32 ONNX graph."""
    estimator = ActivationEstimator.from_path(bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32), bundle.spec)
    request = (bundle.manifest.memory or {}).get("request") or {}
    return memory_plan(estimator, bundle.tiers, precision, request.get("budget_bytes"))


def recorded_tensorrt_memory(bundle: Bundle) -> list[dict]:
    """What TensorRT itself reported for each plan, as its sidecar recorded at build time."""
    recorded = []
    for artifact in bundle.manifest.find(ArtifactKind.PLAN_SIDECAR):
        data = json.loads((bundle.directory / artifact.file).read_text())
        recorded.append({"sidecar": artifact.file, "precision": data.get("precision"),
                         "tensorrt_version": data.get("tensorrt_version"),
                         "device_memory": data.get("device_memory")})
    return recorded


def _mib(nbytes: int | None) -> str:
    return "?" if nbytes is None else f"{nbytes / MIB:.1f} MiB"


def memory_plan_lines(plan: MemoryPlan, recorded: list[dict]) -> list[str]:
    budget = f"budget {_mib(plan.budget_bytes)}" if plan.budget_bytes else "no budget recorded"
    lines = [f"memory plan ({plan.precision} TensorRT, {plan.io_dtype} I/O; {budget}):"]
    for tier in plan.tiers:
        lines.append(f"  {tier.name}: batch {tier.max_batch} at {tier.max_shape[0]}x"
                     f"{tier.max_shape[1]}, I/O {_mib(tier.io_bytes)}, activations "
                     f"{_mib(tier.activation_bytes)} (peak at {tier.peak_node})")
    lines.append(f"  device total {_mib(plan.device_total_bytes)} = weights "
                 f"{_mib(plan.weights_bytes)} + shared scratch {_mib(plan.shared_scratch_bytes)} "
                 f"+ shared I/O {_mib(plan.shared_io_bytes)}; pinned host "
                 f"{_mib(plan.pinned_host_bytes())} (none extra on an integrated GPU)")
    for entry in recorded:
        measured = entry["device_memory"] or {}
        per_tier = ", ".join(f"{name} {_mib(nbytes)}" for name, nbytes in
                             (measured.get("scratch_bytes_per_tier") or {}).items())
        lines.append(f"  TensorRT {entry['tensorrt_version']} {entry['precision']} "
                     f"({entry['sidecar']}): scratch {per_tier or 'not recorded'}; weights "
                     f"{_mib(measured.get('weights_bytes'))}")
    return lines


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
    lines += memory_plan_lines(bundle_memory_plan(bundle), recorded_tensorrt_memory(bundle))
    lines += describe_cache()
    return "\n".join(lines)


def describe_json(bundle_dir: Path | None) -> dict:
    import onnxruntime

    bundle = Bundle.load(bundle_dir or default_bundle_dir())
    plan = bundle_memory_plan(bundle).to_json()
    plan["tensorrt_recorded"] = recorded_tensorrt_memory(bundle)
    return {"fuse_trt": __version__, "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__, "backends": available_backends(),
            "bundle": str(bundle.directory), "spec": bundle.spec.to_json(),
            "tiers": bundle.tiers.to_json(), "artifacts": [vars(a) for a in
                                                            bundle.manifest.artifacts],
            "memory_plan": plan}
