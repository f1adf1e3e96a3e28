"""`fuse-trt build`: weights -> ONNX (validated) -> reduced-precision variants -> plans.

Each step writes its file atomically into the bundle and records it in the manifest, so an
interrupted build leaves a bundle that is smaller, never inconsistent.
"""
from __future__ import annotations

import logging
import platform
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fuse_trt import __version__
from fuse_trt.engine.bundle import Bundle, Manifest
from fuse_trt.engine.tiers import TierTable

log = logging.getLogger("fuse_trt")


@dataclass(frozen=True)
class BuildConfig:
    backend: str = "onnxruntime"
    precision: str = "fp32"
    tier_short_edges: tuple[int, ...] = (512, 768, 1024)
    max_batch: int = 4
    opset: int = 17
    unet_config: object = None  # UNetConfig; None: the default model's
    weights: Path | None = None  # safetensors; None: the shipped default weights
    validate: bool = True
    extra: dict = field(default_factory=dict, compare=False)


def tool_versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    versions = {"fuse_trt": __version__, "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__, "python": platform.python_version()}
    try:
        import torch

        versions["torch"] = torch.__version__
    except ImportError:
        pass
    return versions


def _default_weights_and_config(config: BuildConfig):
    from fuse_trt.engine.unet import DEFAULT_UNET_CONFIG, UNetConfig
    from fuse_trt.models import default_bundle_dir

    if config.unet_config is None and config.weights is None:
        default = Bundle.load(default_bundle_dir())
        return UNetConfig(**default.manifest.unet_config), default.artifact_path("weights", "fp32")
    return config.unet_config or DEFAULT_UNET_CONFIG, config.weights


def export_fp32(out_dir: Path, config: BuildConfig) -> Bundle:
    """Write weights.safetensors and a validated model.onnx into a fresh bundle."""
    from fuse_trt.build_engine.export import ExportConfig, export_onnx
    from fuse_trt.build_engine.validate import validate_onnx
    from fuse_trt.engine.unet import load_fusion_unet, save_fusion_unet

    unet_config, weights = _default_weights_and_config(config)
    model = load_fusion_unet(unet_config, weights)
    spec = unet_config.spec()
    tiers = TierTable.from_short_edges(config.tier_short_edges, stride=spec.stride,
                                       max_batch=config.max_batch)
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle = Bundle(out_dir, Manifest(spec=spec, tiers=tiers, unet_config=asdict(unet_config),
                                      tools=tool_versions()))
    weights_path = out_dir / "weights.safetensors"
    temp_path = out_dir / f".{weights_path.name}.tmp"
    save_fusion_unet(model, temp_path)
    temp_path.replace(weights_path)
    bundle = bundle.add_artifact(weights_path, "weights", "fp32", backend="torch")
    onnx_path = export_onnx(model, spec, out_dir / "model.onnx", ExportConfig(opset=config.opset))
    details = {"opset": config.opset}
    if config.validate:
        differences = validate_onnx(model, onnx_path, spec, tiers)
        details["max_abs_diff_vs_torch"] = max(d.max_abs_diff for d in differences)
    return bundle.add_artifact(onnx_path, "onnx", "fp32", details=details)


def build_bundle(out_dir: Path, config: BuildConfig) -> Bundle:
    """Build (or extend) the bundle at ``out_dir`` for ``config.backend``/``config.precision``."""
    out_dir = Path(out_dir)
    bundle = _reusable_bundle(out_dir, config)
    if bundle is None:
        bundle = _export_into_place(out_dir, config)
    if config.precision == "fp16" and not bundle.manifest.find("onnx", "fp16"):
        from fuse_trt.build_engine.fp16_onnx import fp16_onnx

        path = fp16_onnx(bundle.artifact_path("onnx", "fp32"), out_dir / "model.fp16.onnx")
        bundle = bundle.add_artifact(path, "onnx", "fp16")
    if config.precision == "int8" and config.backend == "onnxruntime":
        from fuse_trt.calibration.ort_int8 import build_ort_int8

        bundle = build_ort_int8(bundle, config)
    if config.backend == "tensorrt":
        from fuse_trt.build_engine.tensorrt_bundle import build_tensorrt_into_bundle

        bundle = build_tensorrt_into_bundle(bundle, config)
    return bundle


def _reusable_bundle(out_dir: Path, config: BuildConfig) -> Bundle | None:
    """An existing bundle at ``out_dir`` built from the same model and tiers, else None."""
    if not (out_dir / "manifest.json").is_file() or config.weights or config.unet_config:
        return None
    bundle = Bundle.load(out_dir)
    tiers = TierTable.from_short_edges(config.tier_short_edges, stride=bundle.spec.stride,
                                       max_batch=config.max_batch)
    if bundle.tiers != tiers or not bundle.manifest.find("onnx", "fp32"):
        return None
    log.info("extending the existing bundle %s", out_dir)
    return bundle


def _export_into_place(out_dir: Path, config: BuildConfig) -> Bundle:
    """Export into a sibling temp directory, then swap it in, so a failure loses nothing."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        export_fp32(staging, config)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Bundle.load(out_dir)
