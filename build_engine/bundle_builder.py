"""The first build step: FusionUNet weights -> a bundle with weights.safetensors and a
validated model.onnx. Later steps (fuse_trt.build_engine.pipeline) add FP16, INT8 and
TensorRT artifacts.

Each step writes its file atomically into the bundle and records it in the manifest, so an
interrupted build leaves a bundle that is smaller, never inconsistent.
"""
from __future__ import annotations

import importlib.metadata
import logging
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fuse_trt.engine.progress import phase
from fuse_trt.engine.bundle import Bundle, Manifest
from fuse_trt.engine.choices import DEFAULT_PRECISION, ArtifactKind, BackendName, Precision
from fuse_trt.engine.memory_plan import DEFAULT_PINNED_BUDGET, DEFAULT_VRAM_BUDGET
from fuse_trt.engine.spec import FUSION_SPEC, IDENTITY_FUSION_SPEC, ModelSpec
from fuse_trt.engine.tiers import TierTable
from fuse_trt.engine.errors import FuseTrtError, ModelContractError

if TYPE_CHECKING:
    from fuse_trt.build_engine.int8_step import Int8Step
    from fuse_trt.build_engine.tensorrt_config import TensorRTBuildConfig
    from fuse_trt.engine.unet import UNetConfig

log = logging.getLogger("fuse_trt")


@dataclass(frozen=True)
class BuildConfig:
    """What `fuse-trt build` makes: the model and tiers, the backend and the precision."""

    backend: str = "onnxruntime"
    precision: str = DEFAULT_PRECISION
    tier_short_edges: tuple[int, ...] = (512, 768, 1024)
    region: str = "face"  # what the UNet is sent: face regions or whole frames (tier shapes)
    max_batch: int = 4  # the most any tier may take; the budget may choose fewer per tier
    vram_budget_bytes: int = DEFAULT_VRAM_BUDGET  # device memory the tiers' batches must fit
    pinned_budget_bytes: int = DEFAULT_PINNED_BUDGET  # page-locked host I/O (discrete GPUs)
    opset: int = 17
    unet_config: UNetConfig | None = None  # None: the default model's
    weights: Path | None = None  # safetensors; None: source_bundle's weights
    source_bundle: Path | None = None  # the bundle whose UNet is exported when weights is None
    onnx: Path | None = None  # a user's own fusion ONNX instead of a FusionUNet
    stride: int = 16  # the ONNX model's stride (FusionUNet states its own)
    validate: bool = True
    int8: Int8Step | None = None  # INT8 calibration and gate, injected by the caller
    tensorrt: TensorRTBuildConfig | None = None  # TensorRT options; None: the defaults
    replace_existing: bool = False  # replace a bundle at the output this build cannot extend
    # FP16 range-audit samples, (spec, tiers) -> {tier: feeds at its max shape}; None:
    # synthetic (fuse_trt.calibration.range_samples.PhotoRangeSamples: the bundled photos)
    range_samples: Callable | None = None


def tool_versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    versions = {"fuse_trt": importlib.metadata.version("fuse-trt"), "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__, "python": platform.python_version()}
    try:
        import torch

        versions["torch"] = torch.__version__
    except ImportError:
        pass
    return versions


def requested_tiers(config: BuildConfig, stride: int) -> TierTable:
    """The tier table asked for, every tier at the batch cap (before the budget sizes it)."""
    return TierTable.from_short_edges(config.tier_short_edges, stride=stride,
                                      region=config.region, max_batch=config.max_batch)


def memory_request(config: BuildConfig) -> dict:
    from fuse_trt.engine.memory_plan import BUDGET_PRECISION

    return {"budget_bytes": config.vram_budget_bytes,
            "pinned_budget_bytes": config.pinned_budget_bytes, "max_batch": config.max_batch,
            "precision": BUDGET_PRECISION}


def sized_for_budget(bundle: Bundle, onnx_path: Path, config: BuildConfig) -> Bundle:
    """Each tier's max batch from the device-memory budget; the plan goes into the manifest."""
    from fuse_trt.engine.activations import ActivationEstimator
    from fuse_trt.engine.memory_plan import BUDGET_PRECISION, batches_for_budget, memory_plan

    estimator = ActivationEstimator.from_path(onnx_path, bundle.spec)
    tiers = batches_for_budget(estimator, bundle.tiers, BUDGET_PRECISION,
                               config.vram_budget_bytes, config.max_batch,
                               config.pinned_budget_bytes)
    plan = memory_plan(estimator, tiers, BUDGET_PRECISION, config.vram_budget_bytes)
    log.info("tier batches for a %d MiB budget: %s (predicted %.0f MiB)",
             config.vram_budget_bytes >> 20, [t.max_batch for t in tiers],
             plan.device_total_bytes / (1 << 20))
    memory = {"request": memory_request(config), "plan": plan.to_json()}
    return replace(bundle, manifest=replace(bundle.manifest, tiers=tiers, memory=memory))


def source_bundle(config: BuildConfig) -> Path:
    if config.source_bundle is None:
        raise FuseTrtError("nothing to export: give weights or a source bundle")
    return config.source_bundle


def _default_weights_and_config(config: BuildConfig):
    from fuse_trt.engine.unet import DEFAULT_UNET_CONFIG, UNetConfig

    if config.unet_config is None and config.weights is None:
        default = Bundle.load(source_bundle(config))
        return UNetConfig(**default.manifest.unet_config), \
            default.artifact_path(ArtifactKind.WEIGHTS, Precision.FP32)
    return config.unet_config or DEFAULT_UNET_CONFIG, config.weights


def export_fp32(out_dir: Path, config: BuildConfig) -> Bundle:
    """Write weights.safetensors and a validated model.onnx into a fresh bundle."""
    from fuse_trt.build_engine.export import ExportConfig, export_onnx
    from fuse_trt.build_engine.validate import validate_onnx
    from fuse_trt.engine.unet import load_fusion_unet, save_fusion_unet

    unet_config, weights = _default_weights_and_config(config)
    try:
        model = load_fusion_unet(unet_config, weights)
    except RuntimeError as error:  # load_state_dict: missing, unexpected or mis-shaped tensors
        raise FuseTrtError(f"{weights}: not weights of this FusionUNet "
                           f"({str(error).splitlines()[0]})") from error
    spec = replace(unet_config.spec(), opset=config.opset)
    tiers = requested_tiers(config, spec.stride)
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle = Bundle(out_dir, Manifest(spec=spec, tiers=tiers, unet_config=asdict(unet_config),
                                      tools=tool_versions()))
    weights_path = out_dir / "weights.safetensors"
    save_fusion_unet(model, weights_path)
    bundle = bundle.add_artifact(weights_path, ArtifactKind.WEIGHTS, Precision.FP32,
                                 backend=BackendName.TORCH)
    with phase(f"ONNX export (opset {config.opset})"):
        onnx_path = export_onnx(model, spec, out_dir / "model.onnx", ExportConfig())
    details = {"opset": config.opset}
    if config.validate:
        with phase(f"ONNX validation against PyTorch on {len(tiers)} tiers"):
            differences = validate_onnx(model, onnx_path, spec, tiers)
        details["max_abs_diff_vs_torch"] = max(d.max_abs_diff for d in differences)
    bundle = sized_for_budget(bundle, onnx_path, config)
    return bundle.add_artifact(onnx_path, ArtifactKind.ONNX, Precision.FP32, details=details)


def spec_for_onnx(onnx_path: Path, stride: int) -> ModelSpec:
    """The fusion spec whose input names the user's ONNX has, with its stride and opset."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    initializers = {tensor.name for tensor in model.graph.initializer}
    names = {value.name for value in model.graph.input if value.name not in initializers}
    opset = max(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
    for base in (FUSION_SPEC, IDENTITY_FUSION_SPEC):
        if names == set(base.input_names):
            return replace(base, stride=stride, opset=opset)
    raise FuseTrtError(
        f"{onnx_path}: inputs {sorted(names)} match no fusion spec; expected "
        f"{FUSION_SPEC.input_names} or {IDENTITY_FUSION_SPEC.input_names} (see docs/quality.md)")


def import_onnx(out_dir: Path, config: BuildConfig) -> Bundle:
    """A bundle around a user's own fusion ONNX: checked against the spec and run once per
    tier on ONNX Runtime. Without FusionUNet weights it has no torch backend."""
    import onnx

    from fuse_trt.build_engine.export import check_onnx, save_onnx
    from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend

    spec = spec_for_onnx(config.onnx, config.stride)
    tiers = requested_tiers(config, spec.stride)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = save_onnx(onnx.load(str(config.onnx)), out_dir / "model.onnx")
    try:
        check_onnx(onnx_path, spec)
    except ModelContractError as error:
        raise ModelContractError(str(error).replace(str(onnx_path), str(config.onnx))) from error
    with OnnxRuntimeBackend(onnx_path, spec, tiers) as backend:
        for tier in tiers:
            outputs = backend.infer(tier, spec.tier_example_feed(tier))
            if outputs[spec.output_names[0]].shape[2:] != tier.opt_shape:
                raise FuseTrtError(f"{config.onnx}: output is not the input's size at tier "
                                   f"{tier.name}")
    bundle = Bundle(out_dir, Manifest(spec=spec, tiers=tiers, tools=tool_versions()))
    bundle = sized_for_budget(bundle, onnx_path, config)
    return bundle.add_artifact(onnx_path, ArtifactKind.ONNX, Precision.FP32,
                               details={"imported_from": str(config.onnx)})
