"""Explicit-quantization ONNX for TensorRT 11.x (and strongly typed 10.x).

TensorRT takes INT8 from Q/DQ nodes in the ONNX: symmetric (every zero point 0), signed INT8,
per-channel weights, float biases. ONNX Runtime's quantizer makes it with symmetric
activations and weights; no precision flags are set at build time. The artifact is gated on
ONNX Runtime (which runs the same Q/DQ arithmetic) before it enters the bundle.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from fuse_trt.calibration.options import Int8Options
from fuse_trt.calibration.ort_int8 import artifact_details, quantize_and_gate
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind, BackendName, Precision

log = logging.getLogger("fuse_trt")

QDQ_ONNX_NAME = "model.int8-qdq.onnx"
QDQ_KIND = ArtifactKind.ONNX_QDQ
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attribute.t)
    return values


def nonzero_zero_points(onnx_path: Path) -> dict[str, str]:
    """Q/DQ nodes whose zero point is not all zeros: {node name: why}. Empty: symmetric.

    A missing zero-point input means 0; a zero point that is not a constant cannot be checked
    and is reported too.
    """
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    constants = _constants(graph)
    offenders = {}
    for node in graph.node:
        if node.op_type not in QDQ_OPS or len(node.input) < 3 or not node.input[2]:
            continue
        zero_point = constants.get(node.input[2])
        if zero_point is None:
            offenders[node.name] = f"zero point {node.input[2]!r} is not a constant"
        elif np.any(zero_point != 0):
            offenders[node.name] = f"zero point {zero_point.ravel()[:4].tolist()}"
    return offenders


def count_qdq_nodes(onnx_path: Path) -> int:
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return sum(node.op_type in QDQ_OPS for node in graph.node)


def check_symmetric(onnx_path: Path) -> None:
    """Raise AssertionError (a bug, not a user error) if any zero point is not 0."""
    offenders = nonzero_zero_points(onnx_path)
    if offenders:
        listed = "; ".join(f"{name}: {why}" for name, why in list(offenders.items())[:5])
        raise AssertionError(f"{onnx_path}: {len(offenders)} Q/DQ nodes are not symmetric: "
                             f"{listed}")
    if count_qdq_nodes(onnx_path) == 0:
        raise AssertionError(f"{onnx_path}: has no Q/DQ nodes")


def build_tensorrt_qdq(bundle: Bundle, options: Int8Options) -> Bundle:
    """Add the symmetric Q/DQ ONNX (kind ``onnx-qdq``, precision int8, backend tensorrt)."""
    options = options.for_tensorrt()
    path, report = quantize_and_gate(bundle, QDQ_ONNX_NAME, options, check=check_symmetric)
    log.info("Q/DQ ONNX for TensorRT %s passed the gate", path)
    details = artifact_details(options, report, bundle.artifact_path(ArtifactKind.ONNX,
                                                                      Precision.FP32))
    return bundle.add_artifact(path, QDQ_KIND, Precision.INT8, backend=BackendName.TENSORRT,
                               details=details)
