"""What a TensorRT build is asked for, and the plans and profiles that follows from it.

INT8 hook: ``TensorRTBuildConfig`` carries either ``int8_calibrator_factory`` (a picklable
callable taking the ``tensorrt`` module and returning an ``IInt8EntropyCalibrator2``; used
where the version calibrates implicitly: 8.6 and weakly typed 10.x) or ``int8_qdq_onnx`` (a
Q/DQ ONNX; used where INT8 is explicit: 11.x and strongly typed 10.x). Which one a version
takes is :meth:`TensorRTCompat.int8_mode`. The calibrator sees batches at the opt shape of
the first GPU tier (its profile is the calibration profile).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierSpec, TierTable
from fuse_trt.engine.errors import EngineBuildError
from fuse_trt.engine.choices import Precision, values

CalibratorFactory = Callable[[ModuleType], object]


@dataclass(frozen=True)
class TensorRTBuildConfig:
    precision: Precision = Precision.FP16
    workspace_bytes: int = 1 << 30
    strongly_typed: bool = False  # 10.x opt-in; 11.x is always strongly typed
    hardware_compat: bool = False  # one plan for every Ampere-or-newer GPU
    version_compatible: bool = False  # plan runs on newer TensorRT of the same major
    dla_core: int | None = None
    dla_tiers: tuple[str, ...] = ()  # tiers built into a separate, static-shape DLA plan
    max_batch: int | None = None  # None: each tier's own max_batch
    device: int = 0
    int8_calibrator_factory: CalibratorFactory | None = None
    int8_qdq_onnx: Path | None = None
    progress: Callable[[str], None] | None = None  # a module-level function (pickled)

    def __post_init__(self):
        if self.precision not in values(Precision):
            raise EngineBuildError(f"unknown precision {self.precision!r}; choose one of "
                                   f"{', '.join(values(Precision))}")
        if self.workspace_bytes <= 0:
            raise EngineBuildError(f"workspace must be positive, got {self.workspace_bytes} bytes")
        if self.dla_tiers and self.dla_core is None:
            raise EngineBuildError(f"DLA tiers {self.dla_tiers} need a dla_core")
        if self.max_batch is not None and self.max_batch < 1:
            raise EngineBuildError(f"max_batch must be at least 1, got {self.max_batch}")


@dataclass(frozen=True)
class PlanJob:
    """One plan to build: everything a (possibly separate) build process needs."""

    bundle_dir: Path
    onnx_path: Path
    spec: ModelSpec
    tiers: tuple[TierSpec, ...]
    config: TensorRTBuildConfig
    on_dla: bool = False

    @property
    def dla_core(self) -> int | None:
        return self.config.dla_core if self.on_dla else None


def plan_jobs(bundle_dir: Path, onnx_path: Path, spec: ModelSpec, tiers: TierTable,
              config: TensorRTBuildConfig) -> list[PlanJob]:
    """A GPU plan for the GPU tiers and, when asked, a DLA plan for the DLA tiers."""
    unknown = set(config.dla_tiers) - set(tiers.names())
    if unknown:
        raise EngineBuildError(f"DLA tiers {sorted(unknown)} are not in the tier table "
                               f"{tiers.names()}")
    gpu = tuple(tier for tier in tiers if tier.name not in config.dla_tiers)
    dla = tuple(tier for tier in tiers if tier.name in config.dla_tiers)
    jobs = [PlanJob(Path(bundle_dir), Path(onnx_path), spec, group, config, on_dla)
            for group, on_dla in ((gpu, False), (dla, True)) if group]
    return jobs


def profile_table(spec: ModelSpec, tiers: tuple[TierSpec, ...], max_batch: int | None = None,
                  static: bool = False) -> dict[str, dict]:
    """One optimization profile per tier, in tier order, over every model input.

    Batch ranges 1..max_batch (opt 1); vector inputs have equal min/opt/max apart from the
    batch. ``static`` (DLA, which has no dynamic shapes) makes min = opt = max = opt.
    """
    table = {}
    for index, tier in enumerate(tiers):
        if max_batch is not None:
            tier = replace(tier, max_batch=max_batch)
        shapes = spec.profile_shapes(tier)
        if static:
            shapes = {name: dict.fromkeys(("min", "opt", "max"), bounds["opt"])
                      for name, bounds in shapes.items()}
        table[tier.name] = {"index": index, "inputs": {
            name: {key: list(shape) for key, shape in bounds.items()}
            for name, bounds in shapes.items()}}
    return table


def timing_cache_name(tensorrt_version: str, gpu_slug: str) -> str:
    return f"timing-cache.trt{tensorrt_version}.{gpu_slug}.bin"
