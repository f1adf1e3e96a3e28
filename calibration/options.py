"""INT8 build options: how to calibrate, what to quantize, and the accuracy gate.

:meth:`Int8Options.from_cli` turns the values of `fuse-trt build`'s INT8 options (or the
same keyword arguments from Python) into the typed configuration the INT8 steps read.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from fuse_trt.calibration.dataset import CalibrationConfig
from fuse_trt.calibration.gate import GateConfig
from fuse_trt.calibration.quantize import QuantizeConfig, parse_op_types
from fuse_trt.calibration.scope import BETWEEN_CONVS

DEFAULT_INT8_OPS = BETWEEN_CONVS


def parse_node_list(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(str(name).strip() for name in value if str(name).strip())


@dataclass(frozen=True)
class Int8Options:
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    quantize: QuantizeConfig = field(default_factory=QuantizeConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    cache_dir: Path | None = None

    @classmethod
    def from_cli(cls, keep_fp: str | tuple[str, ...] | None = None,
                 int8_ops: str = DEFAULT_INT8_OPS,
                 gate_psnr: float = GateConfig.min_psnr_db,
                 gate_residual_ratio: float | None = GateConfig.max_residual_ratio,
                 calibration_size: int = CalibrationConfig.size, calibration_seed: int = 0,
                 calibration_dir: Path | str | None = None) -> Int8Options:
        """``keep_fp``: node names, comma-separated or a sequence; ``int8_ops``:
        'between-convs' (calibration/scope.py), 'all' or op types such as 'Conv,Gemm';
        ``gate_residual_ratio`` None: report only."""
        calibration = CalibrationConfig(size=int(calibration_size), seed=int(calibration_seed))
        op_types, between_convs = parse_op_types(int8_ops)
        quantize = QuantizeConfig(op_types=op_types, between_convs=between_convs,
                                  keep_fp=parse_node_list(keep_fp))
        gate = GateConfig(min_psnr_db=float(gate_psnr),
                          max_residual_ratio=None if gate_residual_ratio is None
                          else float(gate_residual_ratio))
        return cls(calibration, quantize, gate, Path(calibration_dir) if calibration_dir else None)

    def for_tensorrt(self) -> Int8Options:
        """Signed symmetric activations (zero points 0) and float biases, as TensorRT wants
        Q/DQ."""
        return replace(self, quantize=replace(self.quantize, symmetric_activations=True,
                                              unsigned_activations=False, quantize_bias=False))
