"""OpenVINO's CPU runtime on the bundle's FP32 ONNX: a peer row of `fuse-trt bench`.

Only the benchmark uses it, never the pipeline's backend selection; ``openvino`` comes from
the ``bench`` extra and is imported when a row is opened. The model is compiled with FP32
inference precision (on a CPU with bfloat16 units OpenVINO would otherwise run bfloat16) and
the latency hint, so the row answers "the same ONNX, the same precision, another runtime".
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from fuse_trt.engine.choices import Precision
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierSpec, TierTable
from fuse_trt.runtime.protocol import Backend, BackendMemory

OPENVINO = "openvino"
CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}


def openvino_installed() -> bool:
    if "openvino" in sys.modules:  # None there: blocked on purpose
        return sys.modules["openvino"] is not None
    return importlib.util.find_spec("openvino") is not None


def openvino_unavailable(precision: str) -> str | None:
    """None if the OpenVINO row can run ``precision`` here, else why not."""
    if not openvino_installed():
        return "openvino is not installed (pip install 'fuse-trt[bench]')"
    if precision != Precision.FP32:
        return "the OpenVINO row runs the bundle's FP32 ONNX only"
    return None


class OpenVinoBackend(Backend):
    """One compiled model and one infer request for all tiers (dynamic shapes)."""

    name = OPENVINO

    def __init__(self, onnx_path: Path, spec: ModelSpec, tiers: TierTable):
        super().__init__(spec, tiers, Precision.FP32)
        self.onnx_path = Path(onnx_path)
        self._request = None

    def _activate_impl(self) -> None:
        import openvino

        compiled = openvino.Core().compile_model(str(self.onnx_path), "CPU", CONFIG)
        self._request = compiled.create_infer_request()

    def _infer_impl(self, tier: TierSpec, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._request.infer(feed)
        return {name: np.array(self._request.get_tensor(name).data, copy=True)
                for name in self.spec.output_names}

    def _memory_impl(self) -> BackendMemory:
        return BackendMemory(weights_bytes=self.onnx_path.stat().st_size)

    def _close_impl(self) -> None:
        self._request = None
