"""The GPU side of `fuse-trt doctor`: TensorRT (version, how it was found), CUDA and each
GPU, which TensorRT plans run here, and what ``--backend auto`` picks and why not the others.

TensorRT and pycuda are imported only here, inside the functions, and only when installed.
"""
from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from fuse_trt.doctor.finding import Finding, Status
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.errors import BackendUnavailableError, FuseTrtError
from fuse_trt.runtime.cuda_memory import GpuInfo, load_pycuda, query_gpu
from fuse_trt.runtime.plan_sidecar import PlanSidecar, check_plan_runs_here, sidecar_path
from fuse_trt.engine.choices import BackendName
from fuse_trt.runtime.select import select_backend
from fuse_trt.runtime.trt_compat import TensorRTCompat, load_tensorrt


@dataclass(frozen=True)
class Accelerator:
    """What was found: the TensorRT module and the first GPU, each None when absent."""

    tensorrt: TensorRTCompat | None
    gpu: GpuInfo | None


def how_tensorrt_was_found(module: ModuleType) -> str:
    """'pip (tensorrt-cu12 10.3.0)' when a distribution provides the module, else where the
    module file is (JetPack installs it with apt, outside pip)."""
    dists = importlib.metadata.packages_distributions().get("tensorrt", [])
    if dists:
        return f"pip ({dists[0]} {importlib.metadata.version(dists[0])})"
    location = getattr(module, "__file__", None)
    if location:
        return f"system package ({Path(location).parent})"
    return "a module without a file or distribution (a stand-in?)"


def tensorrt_finding() -> tuple[Finding, TensorRTCompat | None]:
    try:
        compat = load_tensorrt()
    except BackendUnavailableError as error:
        return Finding("TensorRT", Status.MISSING, str(error)), None
    return Finding("TensorRT", Status.OK, f"{compat.version}, found as "
                   f"{how_tensorrt_was_found(compat.trt)}"), compat


def _device_line(cuda: ModuleType, index: int) -> tuple[str, GpuInfo]:
    gpu = query_gpu(cuda, index)
    device = cuda.Device(index)
    memory_gib = device.total_memory() / 2 ** 30
    integrated = bool(device.get_attribute(cuda.device_attribute.INTEGRATED))
    kind = "integrated (shares host memory)" if integrated else "discrete"
    major, minor = gpu.compute_capability
    return (f"GPU {index}: {gpu.name}, compute capability {major}.{minor}, "
            f"{memory_gib:.1f} GiB, {kind}"), gpu


def gpu_findings() -> tuple[list[Finding], GpuInfo | None]:
    try:
        cuda = load_pycuda()
    except BackendUnavailableError as error:
        return [Finding("CUDA", Status.MISSING, str(error))], None
    try:
        count = cuda.Device.count()
        lines = [_device_line(cuda, index) for index in range(count)]
    except cuda.Error as error:
        return [Finding("CUDA", Status.MISSING, f"pycuda cannot query the driver: {error}")], None
    driver = int(cuda.get_driver_version())
    findings = [Finding("CUDA", Status.OK if count else Status.MISSING,
                        f"driver supports CUDA {driver // 1000}.{driver % 1000 // 10}, pycuda "
                        f"built for {'.'.join(map(str, cuda.get_version()))}, {count} GPU(s)")]
    findings += [Finding("GPU", Status.OK, line) for line, _ in lines]
    return findings, (lines[0][1] if lines else None)


def engine_cache_dir() -> Path:
    """Where plans built on first use are kept (per user; FUSE_TRT_CACHE overrides)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("FUSE_TRT_CACHE") or Path(base) / "fuse-trt" / "engines")


def plan_files(bundle: Bundle | None, cache: Path) -> list[Path]:
    plans = sorted(cache.glob("**/*.plan")) if cache.is_dir() else []
    if bundle is not None:
        plans = [bundle.directory / a.file for a in bundle.manifest.find("plan")] + plans
    return plans


def plan_finding(plan: Path, accelerator: Accelerator) -> Finding:
    try:
        sidecar = PlanSidecar.read(sidecar_path(plan))
    except (FuseTrtError, ValueError, TypeError) as error:
        return Finding(f"plan {plan.name}", Status.INFO, f"unreadable sidecar ({error})")
    built = (f"{sidecar.precision}, TensorRT {sidecar.tensorrt_version}, {sidecar.gpu_name} "
             f"sm{''.join(map(str, sidecar.compute_capability))}")
    if accelerator.tensorrt is None or accelerator.gpu is None:
        return Finding(f"plan {plan.name}", Status.INFO, f"{built}; cannot run here "
                       "without TensorRT and a GPU")
    try:
        check_plan_runs_here(sidecar, plan, accelerator.tensorrt.version, accelerator.gpu,
                             sidecar.precision)
    except FuseTrtError as error:
        return Finding(f"plan {plan.name}", Status.INFO, f"does not match: {error}")
    return Finding(f"plan {plan.name}", Status.OK, f"{built}: matches this GPU and TensorRT")


def plan_findings(bundle: Bundle | None, accelerator: Accelerator) -> list[Finding]:
    cache = engine_cache_dir()
    plans = plan_files(bundle, cache)
    if not plans:
        return [Finding("TensorRT plans", Status.INFO, f"none in the default bundle or in the "
                        f"engine cache ({cache})")]
    return [plan_finding(plan, accelerator) for plan in plans]


NEVER_AUTO = ("torch: the PyTorch reference, chosen only with --backend torch",
              "triton: a server, chosen only with --backend triton --url")


def auto_choice_finding(bundle: Bundle | None) -> Finding:
    """What ``--backend auto`` picks here (runtime/select.py) and why not the others."""
    if bundle is None:
        return Finding("backend auto", Status.PROBLEM, "no usable default bundle",
                       required=True)
    selection = select_backend(bundle, BackendName.AUTO)
    return Finding("backend auto", Status.OK, f"{selection.describe()}; never auto: "
                   f"{'; '.join(NEVER_AUTO)}", required=True)
