"""Which TensorRT plan serves each tier on this TensorRT and GPU.

Candidates are plans with their sidecars (from the bundle and the engine cache). For every
tier, the plans of the asked precision that have a profile for it and run here are ranked:
an exact match (same TensorRT version, same GPU) before a version-compatible plan before a
hardware-compatible one; at equal rank a DLA plan (built for that tier on purpose) before a
GPU plan, then the newest. A tier served by a DLA plan becomes static in the runtime's tier
table (min = opt = max, its batch), so the planner pads every image to the DLA shape.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from pathlib import Path

from fuse_trt.engine.errors import PlanMismatchError
from fuse_trt.engine.tiers import TierSpec, TierTable
from fuse_trt.runtime.cuda_memory import GpuInfo
from fuse_trt.runtime.plan_sidecar import (PlanSidecar, check_plan_runs_here, gpu_is_same,
                                           rebuild_command)


class Match(IntEnum):
    EXACT = 0
    VERSION_COMPATIBLE = 1
    HARDWARE_COMPATIBLE = 2


@dataclass(frozen=True)
class PlanCandidate:
    path: Path
    sidecar: PlanSidecar


@dataclass(frozen=True)
class PlanSelection:
    routes: dict[str, Path]  # tier name -> plan
    tiers: TierTable  # the runtime's table: DLA tiers static


def match_quality(sidecar: PlanSidecar, tensorrt_version: str, gpu: GpuInfo,
                  precision: str) -> Match | None:
    """How well a plan fits here, or None if it does not run here at all."""
    try:
        check_plan_runs_here(sidecar, Path("plan"), tensorrt_version, gpu, precision)
    except PlanMismatchError:
        return None
    if not gpu_is_same(sidecar, gpu):
        return Match.HARDWARE_COMPATIBLE
    if sidecar.tensorrt_version != tensorrt_version:
        return Match.VERSION_COMPATIBLE
    return Match.EXACT


def select_plans(candidates: list[PlanCandidate], tensorrt_version: str, gpu: GpuInfo,
                 precision: str, tiers: TierTable) -> PlanSelection | None:
    """The best plan per tier, or None when some tier has no plan that runs here."""
    routes, runtime_tiers = {}, []
    for tier in tiers:
        ranked = sorted(
            ((quality, candidate.sidecar.dla_core is None, -index, candidate)
             for index, candidate in enumerate(candidates)
             if tier.name in candidate.sidecar.profiles
             and (quality := match_quality(candidate.sidecar, tensorrt_version, gpu,
                                           precision)) is not None),
            key=lambda entry: entry[:3])
        if not ranked:
            return None
        best = ranked[0][3]
        routes[tier.name] = best.path
        runtime_tiers.append(runtime_tier(tier, best.sidecar))
    return PlanSelection(routes, replace(tiers, tiers=tuple(runtime_tiers)))


def runtime_tier(tier: TierSpec, sidecar: PlanSidecar) -> TierSpec:
    """The tier as the plan's profile serves it: static profiles (DLA) fix shape and batch."""
    inputs = sidecar.profiles[tier.name]["inputs"]
    image = next((bounds for bounds in inputs.values() if len(bounds["opt"]) == 4), None)
    if image is None or image["min"] != image["max"]:
        return tier
    batch, _, height, width = image["opt"]
    return replace(tier, min_shape=(height, width), opt_shape=(height, width),
                   max_shape=(height, width), max_batch=batch, opt_batch=batch)


def explain_no_plan(candidates: list[PlanCandidate], tensorrt_version: str, gpu: GpuInfo,
                    precision: str, tiers: TierTable, bundle_dir: Path) -> str:
    """Why no plan serves every tier here, and the build command that makes them."""
    reasons = []
    for candidate in candidates:
        try:
            check_plan_runs_here(candidate.sidecar, candidate.path, tensorrt_version, gpu,
                                 precision)
        except PlanMismatchError as error:
            reasons.append(str(error).split(". Rebuild it with")[0])
            continue
        missing = [tier.name for tier in tiers if tier.name not in candidate.sidecar.profiles]
        if missing:
            reasons.append(f"{candidate.path.name} has no profile for tiers {missing}")
    dla = [c.sidecar for c in candidates if c.sidecar.dla_core is not None]
    dla_tiers = sorted({name for sidecar in dla for name in sidecar.profiles})
    command = rebuild_command(precision, bundle_dir, dla[-1].dla_core if dla else None,
                              tuple(dla_tiers))
    found = "; ".join(reasons) or f"the bundle has no {precision} TensorRT plan"
    return (f"no TensorRT {precision} plan serves tiers {tiers.names()} on TensorRT "
            f"{tensorrt_version} and {gpu.name} ({gpu.sm}): {found}. Build one with: {command}")
