"""Triton Inference Server model repositories exported from a bundle (see docs/triton.md)."""
from fuse_trt.triton.export import TritonModel, export_triton

__all__ = ["TritonModel", "export_triton"]
