"""Pick and open a backend for a bundle: ``auto`` prefers TensorRT, then ONNX Runtime."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
from enum import Enum
from pathlib import Path

from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.errors import BackendUnavailableError, BundleError
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


DEFAULT_PRECISION = Precision.FP32.value  # of every build, run and TensorRT config
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

    return TensorRTBackend(tensorrt_plan_path(bundle, precision), bundle.spec, bundle.tiers,
                           precision)


def tensorrt_plan_path(bundle: Bundle, precision: str) -> Path:
    """The GPU (not DLA) plan built with the installed TensorRT, else the newest GPU plan;
    the backend's sidecar check then says what does not match and how to rebuild."""
    plans = [a for a in bundle.manifest.find("plan", precision, "tensorrt")
             if a.details.get("dla_core") is None]
    try:
        installed = importlib.metadata.version("tensorrt")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    matching = [a for a in plans if a.details.get("tensorrt_version") == installed]
    chosen = (matching or plans or [None])[-1]
    if chosen is None:
        return bundle.artifact_path("plan", precision, "tensorrt")  # raises with the build hint
    return bundle.artifact_path("plan", precision, "tensorrt", file=chosen.file)


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
