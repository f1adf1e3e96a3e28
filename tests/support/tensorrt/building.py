"""Build plans with the real builder against an installed emulation (see ``emulate``)."""
from __future__ import annotations

import functools
import math
from pathlib import Path

from fuse_trt.build_engine.tensorrt_builder import build_tensorrt_plans
from fuse_trt.build_engine.tensorrt_config import TensorRTBuildConfig
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierTable
from fuse_trt.runtime.trt_compat import load_tensorrt
from tests.support.tensorrt.models import tiny_onnx


def build_plan(bundle_dir: Path, spec: ModelSpec, tiers: TierTable, precision: str = "fp32",
               onnx_path: Path | None = None, **config) -> Path:
    """One plan for every tier of ``tiers``, from ``onnx_path`` or a fresh tiny model."""
    bundle_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = onnx_path or tiny_onnx(spec, bundle_dir / "model.onnx")
    if precision == "int8":
        config = {**int8_inputs(bundle_dir, spec, tiers, config.get("strongly_typed", False)),
                  **config}
    if precision == "fp16":
        config = {**fp16_input(bundle_dir, onnx_path, config.get("strongly_typed", False)),
                  **config}
    [plan] = build_tensorrt_plans(bundle_dir, onnx_path, spec, tiers,
                                  TensorRTBuildConfig(precision=precision, **config))
    return plan


def fp16_input(bundle_dir: Path, onnx_path: Path, strongly_typed: bool) -> dict:
    """The FP16-I/O ONNX where the running version builds FP16 from one, as the pipeline
    makes it."""
    from fuse_trt.build_engine.fp16_onnx import fp16_onnx
    from fuse_trt.build_engine.pipeline import FP16_IO_ONNX_NAME

    if load_tensorrt().precision_recipe("fp16", strongly_typed).onnx_variant != "fp16":
        return {}
    return {"fp16_onnx": fp16_onnx(onnx_path, bundle_dir / FP16_IO_ONNX_NAME,
                                   keep_io_types=False)}


def int8_inputs(bundle_dir: Path, spec: ModelSpec, tiers: TierTable, strongly_typed: bool) -> dict:
    """What the running version's INT8 mode needs: a calibrator factory or a Q/DQ ONNX."""
    if load_tensorrt().int8_mode(strongly_typed) == "explicit":
        return {"int8_qdq_onnx": tiny_onnx(spec, bundle_dir / "model.qdq.onnx", qdq=True)}
    opt_shapes = {name: bounds["opt"] for name, bounds in spec.profile_shapes(tiers.tiers[0]).items()}
    return {"int8_calibrator_factory": functools.partial(make_calibrator, opt_shapes)}


def make_calibrator(shapes: dict[str, tuple[int, ...]], trt):
    """A two-batch entropy calibrator on device memory, as the calibration package makes."""
    import pycuda.driver as cuda

    class TwoBatchCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.remaining, self.cache, self.buffers = 2, None, {}

        def get_batch_size(self):
            return 1

        def get_batch(self, names):
            if not self.remaining:
                return None
            self.remaining -= 1
            for name in names:
                self.buffers.setdefault(name, cuda.mem_alloc(4 * math.prod(shapes[name])))
            return [int(self.buffers[name]) for name in names]

        def read_calibration_cache(self):
            return None

        def write_calibration_cache(self, cache):
            self.cache = bytes(cache)

    return TwoBatchCalibrator()
