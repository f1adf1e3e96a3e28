"""What ONNX Runtime's CPU provider actually runs: the graph after its optimizers."""
from __future__ import annotations

from collections import Counter

import onnx
import onnxruntime as ort
from onnx import numpy_helper


def optimized_graph(path, tmp_path) -> onnx.GraphProto:
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return onnx.load(str(tmp_path / "optimized.onnx")).graph


def resize_scales(graph: onnx.GraphProto) -> list[list[float]]:
    """The scales of every Resize (constant scales input)."""
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    return [constants[node.input[2]].tolist() for node in graph.node if node.op_type == "Resize"]


def op_counts(graph: onnx.GraphProto) -> Counter:
    return Counter(node.op_type for node in graph.node)
