"""fuse-trt: UNet face fusion compiled for TensorRT, with an ONNX Runtime CPU path.

``import fuse_trt`` is light: it imports neither torch, tensorrt nor pycuda.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["FaceFusion", "FusionConfig", "__version__"]


def __getattr__(name: str):
    if name in ("FaceFusion", "FusionConfig"):
        from fuse_trt import api

        return getattr(api, name)
    raise AttributeError(f"module 'fuse_trt' has no attribute {name!r}")
