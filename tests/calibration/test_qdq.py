"""The Q/DQ ONNX for TensorRT: symmetric (every zero point 0, read from the graph), gated."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fuse_trt.calibration.options import Int8Options
from fuse_trt.calibration.qdq import (QDQ_KIND, QDQ_ONNX_NAME, build_tensorrt_qdq,
                                      check_symmetric, count_qdq_nodes, nonzero_zero_points)


def test_tensorrt_qdq_onnx_has_only_zero_zero_points(fresh_bundle, int8_extra):
    bundle = build_tensorrt_qdq(fresh_bundle, Int8Options.from_cli(**int8_extra()))
    path = bundle.artifact_path(QDQ_KIND, "int8", "tensorrt")
    assert path.name == QDQ_ONNX_NAME
    assert count_qdq_nodes(path) > 0 and nonzero_zero_points(path) == {}
    graph = onnx.load(str(path)).graph
    zero_points = [init for init in graph.initializer if "zero_point" in init.name]
    assert zero_points and all(zp.data_type == TensorProto.INT8 for zp in zero_points)
    per_channel = [node for node in graph.node if node.op_type == "DequantizeLinear"
                   and any(a.name == "axis" for a in node.attribute)]
    assert per_channel  # weights carry one scale per output channel
    conv_biases = {node.input[2] for node in graph.node if node.op_type == "Conv"
                   and len(node.input) > 2}
    producers = {out: node.op_type for node in graph.node for out in node.output}
    assert all(producers.get(bias) != "DequantizeLinear" for bias in conv_biases)
    details = bundle.manifest.find(QDQ_KIND, "int8")[-1].details
    assert details["symmetric_activations"] and details["gate"]["passed"]


def _qdq_graph(zero_point: np.ndarray | None, constant_node: bool = False) -> onnx.ModelProto:
    inputs = ["x", "scale"] + ([] if zero_point is None else ["zp"])
    nodes = [helper.make_node("QuantizeLinear", inputs, ["q"], name="quant"),
             helper.make_node("DequantizeLinear", ["q", *inputs[1:]], ["y"], name="dequant")]
    initializers = [numpy_helper.from_array(np.float32(0.1), "scale")]
    if zero_point is not None and constant_node:
        nodes.insert(0, helper.make_node("Constant", [], ["zp"], name="zp_const",
                                         value=numpy_helper.from_array(zero_point)))
    elif zero_point is not None:
        initializers.append(numpy_helper.from_array(zero_point, "zp"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, [4])],
                              [helper.make_tensor_value_info("y", 1, [4])], initializers)
    return helper.make_model(graph)


@pytest.mark.parametrize("constant_node", [False, True])
def test_zero_point_check_reads_initializers_and_constants(tmp_path, constant_node):
    path = tmp_path / "m.onnx"
    onnx.save(_qdq_graph(np.int8(3), constant_node), str(path))
    assert set(nonzero_zero_points(path)) == {"quant", "dequant"}
    with pytest.raises(AssertionError, match="2 Q/DQ nodes are not symmetric"):
        check_symmetric(path)
    onnx.save(_qdq_graph(np.int8(0), constant_node), str(path))
    assert nonzero_zero_points(path) == {}
    check_symmetric(path)


def test_missing_zero_point_means_zero_and_no_qdq_is_refused(tmp_path, fresh_bundle):
    path = tmp_path / "m.onnx"
    onnx.save(_qdq_graph(None), str(path))
    assert nonzero_zero_points(path) == {}
    with pytest.raises(AssertionError, match="no Q/DQ nodes"):
        check_symmetric(fresh_bundle.artifact_path("onnx", "fp32"))
