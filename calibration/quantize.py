"""Static QDQ quantization with ONNX Runtime's quantizer, fed from a calibration set.

``quant_pre_process`` is not run: on the fusion UNet its symbolic shape inference stops
("Incomplete symbolic shape inference") and ``quantize_static`` works without it.

Ranges are collected in bounded memory before ``quantize_static`` runs (it then reads them
from a ranges file): ORT's calibrator adds a ReduceMin/ReduceMax per tensor, so each sample
leaves a few numbers behind, and its session runs without the CPU arena and memory patterns,
which otherwise keep one pre-planned block per input shape alive (about 9 GB over the twelve
shapes of the default calibration set). Peak memory is one inference at the largest shape.
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
from fuse_trt.engine.errors import FuseTrtError

log = logging.getLogger("fuse_trt")

ALL_OPS = "all"


@dataclass(frozen=True)
class QuantizeConfig:
    """What gets quantized and how. ``op_types`` None: every op type ORT can quantize."""

    op_types: tuple[str, ...] | None = ("Conv",)
    keep_fp: tuple[str, ...] = ()  # node names left in floating point
    per_channel: bool = True
    symmetric_activations: bool = False  # True: every zero point 0 (TensorRT's Q/DQ)
    quantize_bias: bool = True  # False: biases stay float (TensorRT fuses them itself)

    def describe(self) -> dict:
        return {"int8_ops": list(self.op_types) if self.op_types else ALL_OPS,
                "keep_fp": list(self.keep_fp), "per_channel": self.per_channel,
                "symmetric_activations": self.symmetric_activations}


def parse_op_types(text: str | None) -> tuple[str, ...] | None:
    """'all' -> None; 'Conv,Gemm' -> ('Conv', 'Gemm')."""
    if text is None or text.strip().lower() == ALL_OPS:
        return None
    op_types = tuple(part.strip() for part in text.split(",") if part.strip())
    if not op_types:
        raise FuseTrtError("--int8-ops needs 'all' or op types such as Conv,Gemm")
    return op_types


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
    """A CPU session that returns its memory after each run (no arena, no memory patterns)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
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


def quantize_qdq(fp32_path: Path, out_path: Path, samples: list[CalibrationSample],
                 input_names: list[str], config: QuantizeConfig = QuantizeConfig(),
                 progress: Progress | None = None) -> Path:
    """Write a QDQ INT8 model of ``fp32_path`` to ``out_path`` (MinMax calibration)."""
    check_keep_fp(Path(fp32_path), config.keep_fp)
    options = {"ActivationSymmetric": config.symmetric_activations, "WeightSymmetric": True,
               "QuantizeBias": config.quantize_bias}
    with tempfile.TemporaryDirectory(prefix="fuse-trt-ranges.") as scratch:
        ranges = collect_ranges(fp32_path, Path(scratch) / "ranges.json", samples, input_names,
                                config, progress)
        with _without_preprocess_advice():
            quantize_static(str(fp32_path), str(out_path), None, quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=config.op_types, per_channel=config.per_channel,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=list(config.keep_fp),
                            calibrate_method=CalibrationMethod.MinMax,
                            calibration_providers=["CPUExecutionProvider"],
                            calibration_cache_path=str(ranges), extra_options=options)
    log.info("quantized %s -> %s (%s)", fp32_path, out_path, config.describe())
    return Path(out_path)
