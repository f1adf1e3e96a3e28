"""How INT8 reaches the build: a step the caller injects, so build_engine never imports
calibration (``fuse_trt.calibration.step.CalibratedInt8`` is the implementation)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fuse_trt.engine.bundle import Bundle
    from fuse_trt.engine.tiers import TierSpec


class Int8Step(Protocol):
    def onnxruntime(self, bundle: Bundle) -> Bundle:
        """The gated ONNX Runtime INT8 artifact added to ``bundle``."""

    def tensorrt_inputs(self, bundle: Bundle, compat, strongly_typed: bool,
                        tier: TierSpec) -> tuple[Bundle, dict]:
        """(bundle, TensorRTBuildConfig keywords): a calibrator factory or a Q/DQ ONNX."""
