"""Backends that run a fusion model per tier: ONNX Runtime, PyTorch reference, TensorRT.

tensorrt, pycuda and torch are imported only inside the backend that needs them.
"""
from fuse_trt.runtime.protocol import Backend, BackendMemory

__all__ = ["Backend", "BackendMemory"]
