"""What the INT8 build quantizes: the conv chain, not the ops around it, not narrow convs."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fuse_trt.calibration.quantize import QuantizeConfig, parse_op_types
from fuse_trt.calibration.scope import (CHAIN_OPS, KEEP_FP, NARROW_CONV, NOT_AN_OP_TYPE,
                                        OUTSIDE_CHAIN, quant_scope)


def _conv(name: str, source: str, out: str, channels_in: int, channels_out: int):
    weight = numpy_helper.from_array(np.zeros((channels_out, channels_in, 3, 3), np.float32),
                                     f"{name}.w")
    return helper.make_node("Conv", [source, weight.name], [out], name=name, pads=[1] * 4), weight


def _unet_like() -> onnx.ModelProto:
    """x (7 ch) -> scale (Mul) -> narrow conv -> relu -> conv a -> relu -> pool -> conv b ->
    resize -> conv c and conv d (on a's relu) -> add -> relu -> narrow head -> blend (Mul);
    the last relu also meets the scaled input in an Add (one input from outside the chain)."""
    specs = [("narrow_in", "scaled", "c0", 7, 16), ("a", "r0", "c1", 16, 16),
             ("b", "p1", "c2", 16, 16), ("c", "u2", "c3", 16, 16), ("d", "r1", "c4", 16, 16),
             ("narrow_head", "r5", "head", 16, 3)]
    convs = {name: _conv(name, *rest) for name, *rest in specs}
    scales = numpy_helper.from_array(np.float32([1, 1, 2, 2]), "scales")
    two = numpy_helper.from_array(np.float32(2.0), "two")
    nodes = [helper.make_node("Mul", ["x", "two"], ["scaled"], name="colour_scale"),
             convs["narrow_in"][0], helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
             convs["a"][0], helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], name="pool", kernel_shape=[2, 2],
                              strides=[2, 2]),
             convs["b"][0], helper.make_node("Resize", ["c2", "", "scales"], ["u2"],
                                             name="resize", mode="nearest"),
             convs["c"][0], convs["d"][0], helper.make_node("Add", ["c3", "c4"], ["s5"], name="sum"),
             helper.make_node("Relu", ["s5"], ["r5"], name="relu5"), convs["narrow_head"][0],
             helper.make_node("Mul", ["head", "scaled"], ["y"], name="blend"),
             helper.make_node("Add", ["r5", "scaled"], ["z"], name="mixed")]
    graph = helper.make_graph(
        nodes, "unet_like", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 7, 8, 8])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("y", "z")],
        [scales, two] + [weight for _, weight in convs.values()])
    return helper.make_model(graph)


def test_between_convs_takes_the_chain_and_says_why_the_rest_stays_float():
    scope = quant_scope(_unet_like(), CHAIN_OPS, between_convs=True)
    assert set(scope.int8) == {"a", "relu1", "pool", "b", "resize", "c", "d", "sum", "relu5"}
    assert scope.fp32 == {"colour_scale": OUTSIDE_CHAIN, "narrow_in": NARROW_CONV,
                          "relu0": OUTSIDE_CHAIN, "narrow_head": NARROW_CONV,
                          "blend": OUTSIDE_CHAIN, "mixed": OUTSIDE_CHAIN}
    described = scope.describe()
    assert described["int8_nodes"] == {"count": 9, "op_types": {
        "Add": 1, "Conv": 4, "MaxPool": 1, "Relu": 2, "Resize": 1}}
    assert described["fp32_nodes"][NARROW_CONV]["nodes"] == ["narrow_in", "narrow_head"]
    assert described["fp32_nodes"][OUTSIDE_CHAIN] == {
        "count": 4, "op_types": {"Add": 1, "Mul": 2, "Relu": 1}}


def test_keep_fp_cuts_the_chain_and_op_type_lists_ignore_it():
    scope = quant_scope(_unet_like(), CHAIN_OPS, between_convs=True, keep_fp=("b",))
    assert scope.fp32["b"] == KEEP_FP and scope.fp32["resize"] == OUTSIDE_CHAIN
    assert "c" in scope.int8  # a conv reads whatever it gets through its own Q
    listed = quant_scope(_unet_like(), ("Conv", "Mul"), between_convs=False, min_channels=1)
    assert set(listed.int8) == {"colour_scale", "narrow_in", "a", "b", "c", "d", "narrow_head",
                                "blend"}
    assert listed.fp32["pool"] == listed.fp32["mixed"] == NOT_AN_OP_TYPE


def test_int8_ops_values_map_to_op_types_and_scope():
    assert parse_op_types("between-convs") == (CHAIN_OPS, True) == parse_op_types(None)
    assert parse_op_types("all") == (None, False)
    assert parse_op_types("Conv, Gemm") == (("Conv", "Gemm"), False)
    assert QuantizeConfig().int8_ops == "between-convs"
    assert QuantizeConfig(op_types=("Conv",), between_convs=False).int8_ops == ["Conv"]
