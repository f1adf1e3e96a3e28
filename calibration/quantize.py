"""Static QDQ quantization with ONNX Runtime's quantizer, fed from a calibration set.

``quant_pre_process`` is not run: on the fusion UNet its symbolic shape inference stops
("Incomplete symbolic shape inference") and ``quantize_static`` works without it.

Ranges are collected in bounded memory before ``quantize_static`` runs (it then reads them
from a ranges file): ORT's calibrator adds a ReduceMin/ReduceMax per tensor, so each sample
leaves a few numbers behind, and its session runs without the CPU arena and memory patterns,
which otherwise keep one pre-planned block per input shape alive (about 9 GB over the twelve
shapes of the default calibration set). It also runs the nodes in priority-based order: that
order follows the node list, where the calibrator puts each reduction right after the tensor
it reads, so a tensor is freed once reduced; ORT's default order ran every reduction after the
whole network and kept all activations alive at once (1.4 GB instead of 0.57 GB at 1024x1024
for Conv ranges, 3.0 GB instead of 0.59 GB for every op type). Peak memory is then about one
plain inference at the largest shape.
"""
from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)

from fuse_trt.calibration.dataset import CalibrationSample, Progress
from fuse_trt.calibration.scope import (BETWEEN_CONVS, CHAIN_OPS, MIN_INT8_CHANNELS, QuantScope,
                                        quant_scope)
from fuse_trt.engine.errors import FuseTrtError

log = logging.getLogger("fuse_trt")

ALL_OPS = "all"


@dataclass(frozen=True)
class QuantizeConfig:
    """What gets quantized and how (calibration/scope.py). ``op_types`` None: every op type ORT
    can quantize; ``between_convs``: only the nodes of the conv chain among them."""

    op_types: tuple[str, ...] | None = CHAIN_OPS
    between_convs: bool = True
    keep_fp: tuple[str, ...] = ()  # node names left in floating point
    min_int8_channels: int = MIN_INT8_CHANNELS  # narrower convs stay floating point
    per_channel: bool = True
    # uint8 activations: ONNX Runtime's CPU kernels fuse the whole chain (QLinearConv, QLinearAdd,
    # 8-bit pooling); with int8 activations several convs and every pool fell back to float
    unsigned_activations: bool = True
    symmetric_activations: bool = False  # True: every zero point 0 (TensorRT's Q/DQ)
    quantize_bias: bool = True  # False: biases stay float (TensorRT fuses them itself)

    @property
    def int8_ops(self) -> str | list[str]:
        if self.op_types is None:
            return ALL_OPS
        return BETWEEN_CONVS if self.between_convs and self.op_types == CHAIN_OPS \
            else list(self.op_types)

    def scope(self, onnx_path: Path) -> QuantScope:
        model = onnx.load(str(onnx_path), load_external_data=False)
        return quant_scope(model, self.op_types, self.between_convs, self.keep_fp,
                           self.min_int8_channels)

    def describe(self) -> dict:
        return {"int8_ops": self.int8_ops, "keep_fp": list(self.keep_fp),
                "min_int8_channels": self.min_int8_channels, "per_channel": self.per_channel,
                "activations": "uint8" if self.unsigned_activations else "int8",
                "symmetric_activations": self.symmetric_activations}


def parse_op_types(text: str | None) -> tuple[tuple[str, ...] | None, bool]:
    """(op types, between convs): 'between-convs' -> (CHAIN_OPS, True); 'all' -> (None, False);
    'Conv,Gemm' -> (('Conv', 'Gemm'), False), every node of those types."""
    if text is None or text.strip().lower() == BETWEEN_CONVS:
        return CHAIN_OPS, True
    if text.strip().lower() == ALL_OPS:
        return None, False
    op_types = tuple(part.strip() for part in text.split(",") if part.strip())
    if not op_types:
        raise FuseTrtError(f"--int8-ops needs '{BETWEEN_CONVS}', 'all' or op types such as "
                           "Conv,Gemm")
    return op_types, False


class FeedReader(CalibrationDataReader):
    """Hands the quantizer one sample feed at a time, in set order."""

    def __init__(self, samples: list[CalibrationSample], input_names: list[str],
                 progress: Progress | None = None):
        self._samples = samples
        self._input_names = input_names
        self._progress = progress
        self._iterator: Iterator[CalibrationSample] | None = None

    def get_next(self) -> dict | None:
        if self._iterator is None:
            self._iterator = iter((self._progress or iter)(self._samples))
        sample = next(self._iterator, None)
        return None if sample is None else {name: sample.feed[name] for name in self._input_names}

    def rewind(self) -> None:
        self._iterator = None

    def __len__(self) -> int:
        return len(self._samples)


def graph_nodes(onnx_path: Path) -> list[onnx.NodeProto]:
    return list(onnx.load(str(onnx_path), load_external_data=False).graph.node)


def edge_conv_names(onnx_path: Path) -> list[str]:
    """The first and last Conv node names: the usual candidates for --keep-fp."""
    convs = [node.name for node in graph_nodes(onnx_path) if node.op_type == "Conv"]
    return sorted({convs[0], convs[-1]}, key=convs.index) if convs else []


def check_keep_fp(onnx_path: Path, names: tuple[str, ...]) -> None:
    known = {node.name for node in graph_nodes(onnx_path)}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise FuseTrtError(f"--keep-fp names nodes that {onnx_path.name} does not have: "
                           f"{', '.join(unknown)}; Conv nodes at the ends are "
                           f"{', '.join(edge_conv_names(onnx_path))}")


class _PreprocessAdviceFilter(logging.Filter):
    """Drops quantize_static's advice (on the root logger) to run quant_pre_process first."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextlib.contextmanager
def _without_preprocess_advice() -> Iterator[None]:
    root, advice_filter = logging.getLogger(), _PreprocessAdviceFilter()
    root.addFilter(advice_filter)
    try:
        yield
    finally:
        root.removeFilter(advice_filter)


def bounded_session(model_path: Path):
    """A CPU session that returns its memory after each run (no arena, no memory patterns)
    and frees each tensor once its reductions ran (priority-based order, see above)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.execution_order = onnxruntime.ExecutionOrder.PRIORITY_BASED
    return onnxruntime.InferenceSession(str(model_path), sess_options=options,
                                        providers=["CPUExecutionProvider"])


def collect_ranges(fp32_path: Path, ranges_path: Path, samples: list[CalibrationSample],
                   input_names: list[str], config: QuantizeConfig = QuantizeConfig(),
                   progress: Progress | None = None) -> Path:
    """MinMax ranges of every tensor ``quantize_static`` calibrates, written to ``ranges_path``
    (ORT's calibration-cache JSON), one sample in memory at a time."""
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    with tempfile.TemporaryDirectory(prefix="fuse-trt-calibration.") as scratch:
        calibrator = create_calibrator(
            Path(fp32_path), config.op_types, augmented_model_path=f"{scratch}/augmented.onnx",
            calibrate_method=CalibrationMethod.MinMax, providers=["CPUExecutionProvider"])
        calibrator.infer_session = bounded_session(calibrator.augmented_model_path)
        calibrator.collect_data(FeedReader(samples, input_names, progress))
        ranges = calibrator.compute_data()
        del calibrator
    save_tensors_data(ranges, ranges_path)
    return Path(ranges_path)


def quantize_with_ranges(fp32_path: Path, out_path: Path, ranges_path: Path,
                         config: QuantizeConfig = QuantizeConfig()) -> Path:
    """Write a QDQ INT8 model of ``fp32_path`` to ``out_path`` from ``collect_ranges``' file."""
    check_keep_fp(Path(fp32_path), config.keep_fp)
    options = {"ActivationSymmetric": config.symmetric_activations, "WeightSymmetric": True,
               "QuantizeBias": config.quantize_bias}
    activations = QuantType.QUInt8 if config.unsigned_activations else QuantType.QInt8
    with _without_preprocess_advice():
        quantize_static(str(fp32_path), str(out_path), None, quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=config.op_types, per_channel=config.per_channel,
                        activation_type=activations, weight_type=QuantType.QInt8,
                        nodes_to_quantize=list(config.scope(Path(fp32_path)).int8),
                        calibrate_method=CalibrationMethod.MinMax,
                        calibration_providers=["CPUExecutionProvider"],
                        calibration_cache_path=str(ranges_path), extra_options=options)
    log.info("quantized %s -> %s (%s)", fp32_path, out_path, config.describe())
    return Path(out_path)
