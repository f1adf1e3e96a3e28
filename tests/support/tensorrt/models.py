"""Tiny ONNX models with a ModelSpec's I/O (dynamic batch/height/width), built with onnx.helper.

Structure: concatenate the image inputs, a 3x3 convolution, add the composite, plus (for a
vector input) a projection of the vector broadcast over H and W. Fast to build and to run.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fuse_trt.engine.spec import ModelSpec

def _value_info(tensor) -> onnx.ValueInfoProto:
    if tensor.layout == "image":
        dims = ["batch", tensor.channels, "height", "width"]
    else:
        dims = ["batch", tensor.channels]
    return helper.make_tensor_value_info(tensor.name, TensorProto.FLOAT, dims)


def tiny_onnx(spec: ModelSpec, path: Path, opset: int = 17, seed: int = 0,
              extra_node: onnx.NodeProto | None = None, qdq: bool = False) -> Path:
    """``qdq``: quantize/dequantize the convolution input, as an explicit-INT8 ONNX does."""
    rng = np.random.default_rng(seed)
    images = [t for t in spec.inputs if t.layout == "image"]
    vectors = [t for t in spec.inputs if t.layout == "vector"]
    out = spec.outputs[0]
    in_channels = sum(t.channels for t in images)
    weights = rng.normal(0, 0.3, (out.channels, in_channels, 3, 3)).astype(np.float32)
    initializers = [numpy_helper.from_array(weights, "conv_w")]
    nodes = [helper.make_node("Concat", [t.name for t in images], ["stacked"], axis=1, name="concat")]
    conv_input = "stacked"
    if qdq:
        initializers += [numpy_helper.from_array(np.array(1 / 127, np.float32), "q_scale"),
                         numpy_helper.from_array(np.array(0, np.int8), "q_zero")]
        nodes += [helper.make_node("QuantizeLinear", ["stacked", "q_scale", "q_zero"], ["q"]),
                  helper.make_node("DequantizeLinear", ["q", "q_scale", "q_zero"], ["dq"])]
        conv_input = "dq"
    nodes += [helper.make_node("Conv", [conv_input, "conv_w"], ["conv"], pads=[1, 1, 1, 1]),
              helper.make_node("Add", ["conv", images[0].name], ["mixed"], name="residual")]
    last = "mixed"
    for vector in vectors:
        vector_nodes, vector_weights, last = _add_vector(vector, out.channels, last, rng)
        nodes += vector_nodes
        initializers += vector_weights
    nodes.append(helper.make_node("Sigmoid", [last], [out.name], name="squash"))
    if extra_node is not None:
        nodes.append(extra_node)
    graph = helper.make_graph(nodes, spec.name, [_value_info(t) for t in spec.inputs],
                              [_value_info(out)], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return Path(path)


def _add_vector(vector, out_channels: int, last: str, rng):
    """Project [N, C] to [N, out, 1, 1] and add it: nodes, initializers, new last output."""
    projection = rng.normal(0, 0.1, (vector.channels, out_channels)).astype(np.float32)
    weights = [numpy_helper.from_array(projection, f"{vector.name}_w"),
               numpy_helper.from_array(np.array([2, 3], np.int64), f"{vector.name}_axes")]
    nodes = [helper.make_node("MatMul", [vector.name, f"{vector.name}_w"], [f"{vector.name}_p"]),
             helper.make_node("Unsqueeze", [f"{vector.name}_p", f"{vector.name}_axes"],
                              [f"{vector.name}_u"]),
             helper.make_node("Add", [last, f"{vector.name}_u"], [f"{vector.name}_sum"])]
    return nodes, weights, f"{vector.name}_sum"


def unsupported_op_onnx(spec: ModelSpec, path: Path) -> Path:
    """A model with one node no importer knows (named, so the parser error can name it)."""
    bogus = helper.make_node("FrobnicateTensor", [spec.outputs[0].name], ["unused"],
                             name="bogus_node")
    return tiny_onnx(spec, path, extra_node=bogus)


def feed_for(spec: ModelSpec, batch: int, height: int, width: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {t.name: rng.random(t.shape(batch, height, width), dtype=np.float32) for t in spec.inputs}
