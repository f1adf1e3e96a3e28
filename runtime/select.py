"""Pick and open a backend for a bundle: ``auto`` prefers TensorRT, then ONNX Runtime."""
from __future__ import annotations

import importlib.util
import logging
from enum import Enum

from fuse_trt.engine.bundle import Bundle
from fuse_trt.errors import BackendUnavailableError, BundleError
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
    from fuse_trt.runtime.tensorrt_backend import TensorRTBackend

    plan = bundle.artifact_path("plan", precision, "tensorrt")
    return TensorRTBackend(plan, bundle.spec, bundle.tiers, precision)


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
