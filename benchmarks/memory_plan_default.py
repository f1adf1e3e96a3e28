"""The default bundle's memory plan before and after issue 12, per tier.

Before: the tier table the default bundle shipped with until then
(``benchmarks/memory/before_tiers.json``: batch 4, square profiles up to 2x the short edge),
FP32 I/O, one device + one pinned buffer per tensor per tier. After: the bundle's tiers now
(sized for its recorded budget) as ``fuse-trt info --json`` reports them: FP16 I/O shared by
all tiers. Both use the same activation estimator on the same model.onnx at FP16 activation
sizes. Writes benchmarks/memory/default_plan.{json,md}.

    .venv/bin/python benchmarks/memory_plan_default.py
"""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "memory"
MIB = 1 << 20


def before_plan(estimator, tiers) -> dict:
    from fuse_trt.engine.memory_plan import memory_plan

    plan = memory_plan(estimator, tiers, "fp16")
    fp32_io = {tier.name: sum(memory_plan(estimator, tiers, "fp32").tier(tier.name)
                              .io_tensors.values()) for tier in tiers}
    per_tier_io = sum(fp32_io.values())  # not shared: every tier had its own buffers
    return {"tiers": {tier.name: {"max_batch": tier.max_batch, "max_shape": list(tier.max_shape),
                                  "io_bytes": fp32_io[tier.name],
                                  "activation_bytes": plan.tier(tier.name).activation_bytes}
                      for tier in tiers},
            "weights_bytes": plan.weights_bytes, "shared_scratch_bytes": plan.shared_scratch_bytes,
            "io_bytes_all_tiers": per_tier_io,
            "device_total_bytes": plan.weights_bytes + plan.shared_scratch_bytes + per_tier_io,
            "pinned_host_bytes": per_tier_io}


def main() -> None:
    from fuse_trt.engine.activations import ActivationEstimator
    from fuse_trt.engine.bundle import Bundle
    from fuse_trt.engine.tiers import TierTable
    from fuse_trt.info import describe_json
    from fuse_trt.models import default_bundle_dir

    bundle = Bundle.load(default_bundle_dir())
    estimator = ActivationEstimator.from_path(bundle.artifact_path("onnx", "fp32"), bundle.spec)
    old = TierTable.from_json(json.loads((OUT / "before_tiers.json").read_text())["tiers"])
    result = {"before": before_plan(estimator, old),
              "after": describe_json(bundle.directory)["memory_plan"]}
    (OUT / "default_plan.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Default bundle memory plan, before and after issue 12", "",
             "Made by `benchmarks/memory_plan_default.py`; activations from onnx shape inference "
             "with tensor lifetimes at FP16 (an upper bound: ONNX Runtime holds 0.64x of it on "
             "this graph, `estimate_vs_ort.md`).", "",
             "| tier | before: batch x H x W | I/O (FP32, own) | activations | after: batch x H x W"
             " | I/O (FP16, shared) | activations |", "|---|---|---|---|---|---|---|"]
    for name, was in result["before"]["tiers"].items():
        now = result["after"]["tiers"][name]
        lines.append(f"| {name} | {was['max_batch']}x{was['max_shape'][0]}x{was['max_shape'][1]} "
                     f"| {was['io_bytes'] / MIB:.1f} | {was['activation_bytes'] / MIB:.1f} | "
                     f"{now['max_batch']}x{now['max_shape'][0]}x{now['max_shape'][1]} | "
                     f"{now['io_bytes'] / MIB:.1f} | {now['activation_bytes'] / MIB:.1f} |")
    before, after = result["before"], result["after"]
    lines += ["", "| MiB | before | after |", "|---|---|---|",
              f"| weights (FP16) | {before['weights_bytes'] / MIB:.1f} | "
              f"{after['weights_bytes'] / MIB:.1f} |",
              f"| shared scratch | {before['shared_scratch_bytes'] / MIB:.1f} | "
              f"{after['shared_scratch_bytes'] / MIB:.1f} |",
              f"| I/O on the device | {before['io_bytes_all_tiers'] / MIB:.1f} | "
              f"{after['shared_io_bytes'] / MIB:.1f} |",
              f"| **device total** | **{before['device_total_bytes'] / MIB:.1f}** | "
              f"**{after['device_total_bytes'] / MIB:.1f}** |",
              f"| pinned host (discrete GPU) | {before['pinned_host_bytes'] / MIB:.1f} | "
              f"{after['pinned_host_bytes'] / MIB:.1f} |",
              f"| pinned host beyond the device total (Jetson) | "
              f"{before['pinned_host_bytes'] / MIB:.1f} | "
              f"{after['pinned_host_bytes_integrated'] / MIB:.1f} |", "",
              f"Budget: {after['budget_bytes'] / MIB:.0f} MiB (the default of `fuse-trt build "
              f"--vram-budget`, see engine/memory_plan.py)."]
    (OUT / "default_plan.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
