"""Pick and open a backend for a bundle: ``auto`` prefers TensorRT, then ONNX Runtime."""
from __future__ import annotations

import importlib.util
import logging
from enum import Enum

from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.errors import BackendUnavailableError, BundleError, PlanMismatchError
from fuse_trt.runtime.protocol import Backend

log = logging.getLogger("fuse_trt")


class BackendName(str, Enum):
    AUTO = "auto"
    ONNXRUNTIME = "onnxruntime"
    TORCH = "torch"
    TENSORRT = "tensorrt"


class Precision(str, Enum):
    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"


BACKEND_CHOICES = [member.value for member in BackendName]
PRECISION_CHOICES = [member.value for member in Precision]


def tensorrt_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("tensorrt", "pycuda"))


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def available_backends() -> list[str]:
    names = [BackendName.ONNXRUNTIME.value]
    if torch_installed():
        names.append(BackendName.TORCH.value)
    if tensorrt_installed():
        names.append(BackendName.TENSORRT.value)
    return names


def resolve_backend_name(bundle: Bundle, requested: str, precision: str) -> str:
    if requested not in BACKEND_CHOICES:
        raise BackendUnavailableError(
            f"unknown backend {requested!r}; choose one of {', '.join(BACKEND_CHOICES)}")
    if requested != BackendName.AUTO:
        return requested
    if tensorrt_installed() and bundle.manifest.find("plan", precision, "tensorrt"):
        return BackendName.TENSORRT.value
    return BackendName.ONNXRUNTIME.value


def open_backend(bundle: Bundle, backend: str = "auto", precision: str = "fp32") -> Backend:
    """An inactive backend for ``bundle``; call ``activate()`` (or use ``with``)."""
    if precision not in PRECISION_CHOICES:
        raise BackendUnavailableError(
            f"unknown precision {precision!r}; choose one of {', '.join(PRECISION_CHOICES)}")
    name = resolve_backend_name(bundle, backend, precision)
    log.info("backend %s, precision %s", name, precision)
    if name == BackendName.ONNXRUNTIME:
        from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend

        path = bundle.artifact_path("onnx", precision)
        return OnnxRuntimeBackend(path, bundle.spec, bundle.tiers, precision)
    if name == BackendName.TORCH:
        return _torch_backend(bundle, precision)
    return open_tensorrt(bundle, precision)


def bundle_plan_candidates(bundle: Bundle, precision: str) -> list:
    """The bundle's TensorRT plans of ``precision`` with their sidecars, in manifest order."""
    from fuse_trt.runtime.plan_choice import PlanCandidate
    from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path

    candidates = []
    for artifact in bundle.manifest.find("plan", precision, "tensorrt"):
        path = bundle.directory / artifact.file
        if path.is_file() and sidecar_path(path).is_file():
            candidates.append(PlanCandidate(path, PlanSidecar.read(sidecar_path(path))))
    return candidates


def here(device: int = 0):
    """(TensorRT version, GPU) of this machine; imports tensorrt and pycuda."""
    from fuse_trt.runtime.cuda_memory import load_pycuda, query_gpu
    from fuse_trt.runtime.trt_compat import load_tensorrt

    return load_tensorrt().version, query_gpu(load_pycuda(), device)


def model_onnx_sha256(bundle: Bundle) -> str | None:
    onnx = bundle.manifest.find("onnx", "fp32")
    return onnx[-1].sha256 if onnx else None


def open_tensorrt(bundle: Bundle, precision: str, extra_candidates: tuple = ()) -> Backend:
    """The TensorRT backend over the plans that serve each tier here (bundle plans, then
    ``extra_candidates`` such as engine-cache plans); PlanMismatchError says how to build."""
    from fuse_trt.runtime.plan_choice import explain_no_plan, select_plans
    from fuse_trt.runtime.tensorrt_backend import TensorRTBackend

    version, gpu = here()
    candidates = [*bundle_plan_candidates(bundle, precision), *extra_candidates]
    selection = select_plans(candidates, version, gpu, precision, bundle.tiers)
    if selection is None:
        raise PlanMismatchError(explain_no_plan(candidates, version, gpu, precision,
                                                bundle.tiers, bundle.directory))
    for path in set(selection.routes.values()):
        if path.parent == bundle.directory:
            bundle.artifact_path("plan", precision, "tensorrt", file=path.name)  # sha256
    log.info("tensorrt plans: %s", {tier: path.name for tier, path in selection.routes.items()})
    return TensorRTBackend(selection.routes, bundle.spec, selection.tiers, precision,
                           model_onnx_sha256=model_onnx_sha256(bundle))


def _torch_backend(bundle: Bundle, precision: str) -> Backend:
    if not torch_installed():
        raise BackendUnavailableError("the torch backend needs PyTorch: pip install "
                                      "'fuse-trt[export]' -c constraints-cpu.txt")
    if bundle.manifest.unet_config is None:
        raise BundleError(f"{bundle.directory}: the torch backend needs a built-in FusionUNet "
                          "bundle (this one holds only ONNX)")
    from fuse_trt.runtime.torch_backend import TorchBackend

    weights = bundle.artifact_path("weights", "fp32")
    config = bundle.manifest.unet_config

    def make_model():
        from fuse_trt.engine.unet import UNetConfig, load_fusion_unet

        return load_fusion_unet(UNetConfig(**config), weights)

    device = "cpu"
    if precision == Precision.FP16:
        device = "cuda"
    return TorchBackend(make_model, bundle.spec, bundle.tiers, precision, device=device)
