"""The INT8 step that `fuse-trt build` injects into the build pipeline (build_engine.int8_step)."""
from __future__ import annotations

from dataclasses import dataclass, field

from fuse_trt.calibration.options import Int8Options
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.tiers import TierSpec


@dataclass(frozen=True)
class CalibratedInt8:
    options: Int8Options = field(default_factory=Int8Options)

    def onnxruntime(self, bundle: Bundle) -> Bundle:
        from fuse_trt.calibration.ort_int8 import build_ort_int8

        return build_ort_int8(bundle, self.options)

    def tensorrt_inputs(self, bundle: Bundle, compat, strongly_typed: bool,
                        tier: TierSpec) -> tuple[Bundle, dict]:
        from fuse_trt.calibration.tensorrt_int8 import tensorrt_int8_inputs

        return tensorrt_int8_inputs(bundle, compat, self.options, strongly_typed, tier)
