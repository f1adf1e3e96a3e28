"""The JSON written next to every TensorRT plan, and the check that a plan runs here.

It lives in ``runtime`` (not ``build_engine``) because a runtime-only install must read it;
the builder writes it. A plan only runs on the TensorRT version and GPU it was built for,
unless it was built version-compatible (same major, newer runtime) or hardware-compatible
(any Ampere or newer GPU).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from fuse_trt.engine.errors import PlanMismatchError
from fuse_trt.runtime.cuda_memory import GpuInfo
from fuse_trt.runtime.trt_compat import parse_tensorrt_version

SIDECAR_SCHEMA = 1
AMPERE = (8, 0)

# {tier name: {"index": profile index, "inputs": {tensor: {"min"|"opt"|"max": [dims]}}}}
ProfileTable = Mapping[str, Mapping]


@dataclass(frozen=True)
class PlanSidecar:
    model: str
    precision: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    cuda_version: str
    driver_version: str
    onnx_file: str
    onnx_sha256: str
    profiles: ProfileTable
    strongly_typed: bool = False
    hardware_compat: bool = False
    version_compatible: bool = False
    dla_core: int | None = None
    io_dtypes: Mapping[str, str] | None = None  # tensor name -> numpy dtype name of the plan's I/O
    device_memory: Mapping | None = None  # TensorRT's own scratch / weights figures at build
    source_onnx_sha256: str | None = None  # the bundle's FP32 ONNX the parsed one came from
    tf32: bool | None = None  # BuilderFlag.TF32 at the build (None: the version has none)
    schema: int = SIDECAR_SCHEMA

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def read(cls, path: Path) -> PlanSidecar:
        if not path.is_file():
            raise PlanMismatchError(f"{path} is missing: a TensorRT plan needs the sidecar its "
                                    f"build wrote; rebuild the plan")
        data = json.loads(path.read_text())
        data["compute_capability"] = tuple(data["compute_capability"])
        return cls(**data)

    def profile_index(self, tier_name: str) -> int:
        if tier_name not in self.profiles:
            raise PlanMismatchError(f"the plan has no profile for tier {tier_name}; it was built "
                                    f"for tiers {sorted(self.profiles)}")
        return int(self.profiles[tier_name]["index"])


def sidecar_path(plan_path: Path) -> Path:
    return Path(plan_path).with_suffix(".json")


def plan_file_name(model: str, tensorrt_version: str, gpu: GpuInfo, precision: str,
                   dla_core: int | None = None) -> str:
    """One plan per (TensorRT version, GPU, precision), DLA plans apart."""
    dla = "" if dla_core is None else f".dla{dla_core}"
    return f"{model}.trt{tensorrt_version}.{gpu.slug}.{precision}{dla}.plan"


def rebuild_command(precision: str, bundle_dir: Path, dla_core: int | None = None,
                    dla_tiers: tuple[str, ...] = ()) -> str:
    command = f"fuse-trt build --backend tensorrt --precision {precision} -o {bundle_dir}"
    if dla_core is not None and dla_tiers:
        command += f" --dla-core {dla_core} --dla-tiers {','.join(dla_tiers)}"
    return command


def sidecar_rebuild_command(sidecar: PlanSidecar, plan_path: Path) -> str:
    """The command that rebuilds this plan, DLA options included."""
    return rebuild_command(sidecar.precision, Path(plan_path).parent, sidecar.dla_core,
                           tuple(sorted(sidecar.profiles)))


def check_plan_matches_model(sidecar: PlanSidecar, plan_path: Path,
                             model_onnx_sha256: str | None, precision: str) -> None:
    """Refuse a plan built from another ONNX than the bundle's (a stale plan with the same I/O
    would run silently). Sidecars without ``source_onnx_sha256`` parsed the FP32 ONNX itself."""
    if model_onnx_sha256 is None:
        return
    built_from = sidecar.source_onnx_sha256 or sidecar.onnx_sha256
    if built_from != model_onnx_sha256:
        raise PlanMismatchError(
            f"{Path(plan_path).name} was built from an ONNX with sha256 {built_from[:12]}, the "
            f"bundle's model.onnx is {model_onnx_sha256[:12]}: the plan is stale. Rebuild it "
            f"with: {sidecar_rebuild_command(sidecar, plan_path)}")


def check_plan_runs_here(sidecar: PlanSidecar, plan_path: Path, tensorrt_version: str,
                         gpu: GpuInfo, precision: str) -> None:
    """Raise PlanMismatchError saying what the plan expects, what was found, how to rebuild."""
    problems = []
    if sidecar.precision != precision:
        problems.append(f"precision: the plan is {sidecar.precision}, {precision} was asked for")
    if not _tensorrt_matches(sidecar, tensorrt_version):
        problems.append(f"TensorRT: built with {sidecar.tensorrt_version}, running "
                        f"{tensorrt_version}")
    if not _gpu_matches(sidecar, gpu):
        built_sm = "sm{}{}".format(*sidecar.compute_capability)
        problems.append(f"GPU: built for {sidecar.gpu_name} ({built_sm}), running on "
                        f"{gpu.name} ({gpu.sm})")
    if problems:
        raise PlanMismatchError(
            f"{Path(plan_path).name} does not run here: {'; '.join(problems)}. Rebuild it with: "
            f"{sidecar_rebuild_command(replace(sidecar, precision=precision), plan_path)}")


def _tensorrt_matches(sidecar: PlanSidecar, running: str) -> bool:
    if not sidecar.version_compatible:
        return sidecar.tensorrt_version == running
    built, here = parse_tensorrt_version(sidecar.tensorrt_version), parse_tensorrt_version(running)
    return built[0] == here[0] and here >= built


def gpu_is_same(sidecar: PlanSidecar, gpu: GpuInfo) -> bool:
    return (sidecar.gpu_name == gpu.name
            and tuple(sidecar.compute_capability) == gpu.compute_capability)


def _gpu_matches(sidecar: PlanSidecar, gpu: GpuInfo) -> bool:
    if sidecar.hardware_compat:
        return gpu.compute_capability >= AMPERE
    return gpu_is_same(sidecar, gpu)
