"""`fuse-trt build`: export -> reduced-precision ONNX -> TensorRT plans, into one bundle.

INT8 calibration reaches the pipeline as an injected step (``BuildConfig.int8``), so this
module never imports ``calibration``. An existing bundle built from the same model and tiers
is extended instead of rebuilt.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from fuse_trt.build_engine.bundle_builder import (BuildConfig, export_fp32, import_onnx,
                                                   memory_request, requested_tiers)
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ANY, ArtifactKind, BackendName, Precision
from fuse_trt.engine.files import sha256_file
from fuse_trt.engine.tiers import TierTable
from fuse_trt.engine.errors import FuseTrtError

log = logging.getLogger("fuse_trt")

FP16_ONNX_NAME = "model.fp16.onnx"
FP16_IO_ONNX_NAME = "model.fp16-io.onnx"


def build_bundle(out_dir: Path, config: BuildConfig) -> Bundle:
    """Build (or extend) the bundle at ``out_dir`` for ``config.backend``/``config.precision``."""
    if config.backend not in ("onnxruntime", "tensorrt"):
        raise FuseTrtError(f"cannot build for backend {config.backend!r}; "
                           "choose onnxruntime or tensorrt")
    out_dir = Path(out_dir)
    bundle = _reusable_bundle(out_dir, config) or _export_into_place(out_dir, config)
    if config.backend == BackendName.TENSORRT:
        return build_tensorrt(bundle, config)
    if config.precision == Precision.FP16:
        return add_fp16_onnx(bundle)
    if config.precision == Precision.INT8:
        return _int8_step(config).onnxruntime(bundle)
    return bundle


def _int8_step(config: BuildConfig):
    if config.int8 is None:
        raise FuseTrtError("an INT8 build needs calibration: pass BuildConfig.int8 "
                           "(fuse_trt.calibration.step.CalibratedInt8)")
    return config.int8


def add_fp16_onnx(bundle: Bundle) -> Bundle:
    """The FP16 ONNX (I/O kept FP32): ONNX Runtime fp16, and TensorRT 11.x's FP16 input."""
    from fuse_trt.build_engine.fp16_onnx import fp16_onnx

    path = bundle.directory / FP16_ONNX_NAME
    if not bundle.manifest.find(ArtifactKind.ONNX, Precision.FP16) or not path.is_file():
        fp16_onnx(bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32), path)
    return bundle.add_artifact(path, ArtifactKind.ONNX, Precision.FP16)


def build_tensorrt(bundle: Bundle, config: BuildConfig) -> Bundle:
    """Plans for the installed TensorRT and GPU, recorded with their sidecars and caches."""
    from fuse_trt.build_engine.tensorrt_builder import build_tensorrt_plans
    from fuse_trt.build_engine.tensorrt_config import TensorRTBuildConfig
    from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path
    from fuse_trt.runtime.trt_compat import load_tensorrt

    compat = load_tensorrt()
    # The tiers carry their own max batch (sized for the memory budget at export).
    trt_config = replace(config.tensorrt or TensorRTBuildConfig(), precision=config.precision)
    if config.precision == Precision.INT8:
        bundle, trt_config = _with_int8_inputs(bundle, config, compat, trt_config)
    plans = build_tensorrt_plans(bundle.directory,
                                 bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32),
                                 bundle.spec, bundle.tiers, trt_config)
    for plan in plans:
        sidecar = PlanSidecar.read(sidecar_path(plan))
        details = {"tensorrt_version": sidecar.tensorrt_version, "gpu_name": sidecar.gpu_name,
                   "compute_capability": list(sidecar.compute_capability),
                   "dla_core": sidecar.dla_core, "tiers": sorted(sidecar.profiles)}
        bundle = bundle.add_artifact(plan, ArtifactKind.PLAN, config.precision,
                                     BackendName.TENSORRT, details)
        bundle = bundle.add_artifact(sidecar_path(plan), ArtifactKind.PLAN_SIDECAR,
                                     config.precision, BackendName.TENSORRT)
    for cache in sorted(bundle.directory.glob("timing-cache.*.bin")):
        bundle = bundle.add_artifact(cache, ArtifactKind.TIMING_CACHE, ANY, BackendName.TENSORRT)
    if (bundle.directory / FP16_ONNX_NAME).is_file():
        bundle = bundle.add_artifact(bundle.directory / FP16_ONNX_NAME, ArtifactKind.ONNX,
                                     Precision.FP16)
    if (bundle.directory / FP16_IO_ONNX_NAME).is_file():  # strongly typed FP16 plans' input
        bundle = bundle.add_artifact(bundle.directory / FP16_IO_ONNX_NAME,
                                     ArtifactKind.ONNX_FP16_IO, Precision.FP16,
                                     BackendName.TENSORRT)
    return bundle


def _with_int8_inputs(bundle: Bundle, config: BuildConfig, compat, trt_config):
    """The calibrator (implicit INT8) or the Q/DQ ONNX (explicit) this TensorRT takes."""
    # The calibration profile is the first profile of the first plan built: the GPU plan's
    # first tier, or the first DLA tier when every tier is on DLA (later plans reuse the
    # calibration cache the first one wrote).
    tier = next((tier for tier in bundle.tiers if tier.name not in trt_config.dla_tiers),
                bundle.tiers.tiers[0])
    bundle, keywords = _int8_step(config).tensorrt_inputs(bundle, compat,
                                                          trt_config.strongly_typed, tier)
    return bundle, replace(trt_config, **keywords)


def _reusable_bundle(out_dir: Path, config: BuildConfig) -> Bundle | None:
    """An existing bundle at ``out_dir`` made from the same weights, tiers and opset, else None."""
    if not (out_dir / "manifest.json").is_file() or config.unet_config is not None \
            or config.onnx is not None:
        return None
    bundle = Bundle.load(out_dir)
    weights = bundle.manifest.find(ArtifactKind.WEIGHTS, Precision.FP32)
    same_model = bool(weights) and weights[-1].sha256 == _source_weights_sha256(config)
    if not same_model or not _same_tiers(bundle, config) or bundle.spec.opset != config.opset \
            or not bundle.manifest.find(ArtifactKind.ONNX, Precision.FP32):
        return None
    log.info("extending the existing bundle %s", out_dir)
    return bundle


def _same_tiers(bundle: Bundle, config: BuildConfig) -> bool:
    """Same tier shapes and the same budget request (the batches follow from those)."""
    def unbatched(tiers: TierTable) -> TierTable:
        return replace(tiers, tiers=tuple(replace(t, max_batch=1) for t in tiers))

    requested = requested_tiers(config, bundle.spec.stride)
    recorded = (bundle.manifest.memory or {}).get("request")
    if recorded is None:  # made without a budget (imported tables, tests): the tiers as asked
        return bundle.tiers == requested
    return unbatched(bundle.tiers) == unbatched(requested) and recorded == memory_request(config)


def _source_weights_sha256(config: BuildConfig) -> str:
    if config.weights is not None:
        return sha256_file(config.weights)
    from fuse_trt.build_engine.bundle_builder import source_bundle

    source = Bundle.load(source_bundle(config))
    return source.manifest.find(ArtifactKind.WEIGHTS, Precision.FP32)[-1].sha256


def _export_into_place(out_dir: Path, config: BuildConfig) -> Bundle:
    """Export into a sibling temp directory, then swap it in, so a failure loses nothing."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        if config.onnx is not None:
            import_onnx(staging, config)
        else:
            export_fp32(staging, config)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Bundle.load(out_dir)
