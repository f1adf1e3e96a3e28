"""TensorRT plans built on first use into a per-user engine cache.

When TensorRT runs and neither the bundle nor the cache holds a plan that serves every tier
on this TensorRT version and GPU, one is built into the cache (never into the bundle, which
may be the installed package). The cache lives in ``$FUSE_TRT_CACHE_DIR`` or
``$XDG_CACHE_HOME/fuse-trt/engines`` (``~/.cache/fuse-trt/engines``); an entry is a directory
keyed by the bundle's ONNX sha256, the TensorRT version, the GPU slug with its compute
capability, the precision, and the tier table and workspace budget. A file lock per entry
keeps two processes from building the same plan at once; the plan is built in a staging
directory that is renamed into place whole. The composition (runtime selection + the
build_engine builder) lives here at the package root: runtime never imports build_engine.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind, BackendName, Precision
from fuse_trt.engine.errors import FuseTrtError, PlanMismatchError
from fuse_trt.runtime.cuda_memory import GpuInfo
from fuse_trt.runtime.plan_choice import PlanCandidate, select_plans
from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path
from fuse_trt.runtime.protocol import Backend

log = logging.getLogger("fuse_trt")

CACHE_ENV = "FUSE_TRT_CACHE_DIR"
WORKSPACE_BYTES = 1 << 30


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fuse-trt" / "engines"


@dataclass(frozen=True)
class CacheKey:
    onnx_sha256: str
    tensorrt_version: str
    gpu_slug: str  # name and compute capability, e.g. nvidia-geforce-rtx-4090-sm89
    precision: str
    tiers: str  # the tier table as JSON: shapes and batch per tier
    workspace_bytes: int = WORKSPACE_BYTES

    @classmethod
    def of(cls, bundle: Bundle, tensorrt_version: str, gpu: GpuInfo, precision: str) -> CacheKey:
        from fuse_trt.runtime.select import model_onnx_sha256

        tiers = json.dumps(bundle.tiers.to_json(), sort_keys=True)
        return cls(model_onnx_sha256(bundle) or "", tensorrt_version, gpu.slug,
                   str(precision), tiers)

    @property
    def directory_name(self) -> str:
        budget = hashlib.sha256(f"{self.tiers}|{self.workspace_bytes}".encode()).hexdigest()
        return (f"{self.onnx_sha256[:16]}.trt{self.tensorrt_version}.{self.gpu_slug}."
                f"{self.precision}.{budget[:12]}")


def cached_candidates(entry: Path) -> list[PlanCandidate]:
    return [PlanCandidate(plan, PlanSidecar.read(sidecar_path(plan)))
            for plan in sorted(entry.glob("*.plan")) if sidecar_path(plan).is_file()]


def open_backend(bundle: Bundle, backend: BackendName | str = BackendName.AUTO,
                 precision: Precision | str | None = None, url: str | None = None) -> Backend:
    """runtime.select's backend, with TensorRT plans built into the cache when missing.
    ``url``: the server of the ``triton`` backend."""
    from fuse_trt.runtime.select import open_selected, select_backend

    selection = select_backend(bundle, backend, precision, plans_buildable=True)
    if selection.name != BackendName.TENSORRT:
        return open_selected(bundle, selection, url)
    log.info("%s", selection.describe())
    return open_tensorrt_building(bundle, selection.precision)


def open_tensorrt_building(bundle: Bundle, precision: Precision) -> Backend:
    from fuse_trt.runtime.select import here, open_tensorrt

    version, gpu = here()
    entry = cache_root() / CacheKey.of(bundle, version, gpu, precision).directory_name
    if not _served(bundle, entry, version, gpu, precision):
        build_into_cache(bundle, precision, entry, lambda: _served(bundle, entry, version, gpu,
                                                                   precision))
    cached = tuple(cached_candidates(entry)) if entry.is_dir() else ()
    backend = open_tensorrt(bundle, precision, cached)
    from_cache = sorted({path.name for path in backend.plan_routes.values()
                         if path.parent == entry})
    if from_cache:
        log.info("using the cached TensorRT plan %s from %s", ", ".join(from_cache), entry)
    return backend


def _served(bundle: Bundle, entry: Path, version: str, gpu: GpuInfo, precision: str) -> bool:
    from fuse_trt.runtime.select import bundle_plan_candidates

    candidates = bundle_plan_candidates(bundle, precision)
    if entry.is_dir():
        candidates += cached_candidates(entry)
    return select_plans(candidates, version, gpu, precision, bundle.tiers) is not None


def build_into_cache(bundle: Bundle, precision: Precision, entry: Path, is_served) -> Path:
    """Build the plan for ``entry`` under its lock, unless another process did meanwhile."""
    if precision == Precision.INT8:
        raise PlanMismatchError(
            f"no TensorRT int8 plan for this GPU: INT8 needs calibration; build it with "
            f"fuse-trt build --backend tensorrt --precision int8 -o DIR and pass --bundle DIR")
    entry.parent.mkdir(parents=True, exist_ok=True)
    with _locked(entry.with_name(entry.name + ".lock")):
        if is_served():
            log.warning("using the TensorRT plan another process built into %s", entry)
            return entry
        log.warning("no TensorRT %s plan for this GPU and TensorRT in %s: building one into "
                    "the engine cache %s (first use; this takes a while)", precision,
                    bundle.directory, entry)
        _build_entry(bundle, precision, entry)
    log.warning("built the TensorRT plan into %s", entry)
    return entry


def _build_entry(bundle: Bundle, precision: Precision, entry: Path) -> None:
    from fuse_trt.build_engine.build_progress import log_progress
    from fuse_trt.build_engine.tensorrt_builder import build_tensorrt_plans
    from fuse_trt.build_engine.tensorrt_config import TensorRTBuildConfig

    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        config = TensorRTBuildConfig(precision=str(precision), workspace_bytes=WORKSPACE_BYTES,
                                     progress=log_progress)
        onnx_path = bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32)
        build_tensorrt_plans(staging, onnx_path, bundle.spec, bundle.tiers, config)
        if entry.exists():
            shutil.rmtree(entry)  # an older entry that no longer serves (e.g. partial tiers)
        staging.rename(entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl  # POSIX (Linux desktops and Jetson); imported only when a plan is built

    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another process is building this TensorRT plan; waiting for it (%s)",
                        path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- listing and clearing --------------------------------------------------------------
def cached_plans() -> list[Path]:
    root = cache_root()
    return sorted(root.glob("*/*.plan")) if root.is_dir() else []


def describe_cache() -> list[str]:
    plans = cached_plans()
    lines = [f"engine cache {cache_root()}: {len(plans)} plan(s)"]
    for plan in plans:
        sidecar = PlanSidecar.read(sidecar_path(plan))
        lines.append(f"  {plan.parent.name}/{plan.name}: {sidecar.precision}, TensorRT "
                     f"{sidecar.tensorrt_version}, {sidecar.gpu_name}, tiers "
                     f"{sorted(sidecar.profiles)}, {plan.stat().st_size} bytes")
    return lines


def clear_cache() -> int:
    """Remove every cache entry (and lock file); returns how many plans were removed."""
    root = cache_root()
    if not root.is_dir():
        return 0
    removed = len(cached_plans())
    for child in root.iterdir():
        try:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        except OSError as error:
            raise FuseTrtError(f"{child}: cannot remove ({error.strerror})") from error
    return removed
