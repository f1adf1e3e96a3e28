"""TensorRT's rules for explicit quantization, as the ONNX parser applies them.

Every Q/DQ zero point is zero and signed INT8 (symmetric; TensorRT has no asymmetric
quantization); scales are positive constants; a per-channel scale (1-D, more than one value)
sits only on a constant weight, along the output-channel axis of the layer that consumes
it (0 for Conv/MatMul-as-Gemm weights, 1 for ConvTranspose); every QuantizeLinear feeds only
DequantizeLinear nodes; every DequantizeLinear reads a QuantizeLinear or a constant INT8
weight.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

WEIGHT_AXIS = {"Conv": 0, "ConvTranspose": 1, "Gemm": 0, "MatMul": 1}


def _constants(graph) -> dict[str, np.ndarray]:
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def qdq_problems(model: onnx.ModelProto) -> list[tuple[int, str, str]]:
    """(node index, node name, problem) for every Q/DQ node TensorRT would refuse."""
    graph = model.graph
    constants = _constants(graph)
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    problems = []
    for index, node in enumerate(graph.node):
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        for problem in _node_problems(node, constants, producers, consumers):
            problems.append((index, node.name, problem))
    return problems


def _node_problems(node, constants, producers, consumers):
    scale = constants.get(node.input[1])
    zero = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if scale is None or np.any(scale <= 0):
        yield "the scale must be a positive constant"
    if zero is not None and (zero.dtype != np.int8 or np.any(zero != 0)):
        yield f"zero point {zero.dtype} {zero.ravel()[:3].tolist()}: only symmetric INT8"
    if scale is not None and scale.size > 1:
        yield from _per_channel_problems(node, scale, constants, consumers)
    if node.op_type == "QuantizeLinear":
        if any(user.op_type != "DequantizeLinear" for user in consumers.get(node.output[0], [])):
            yield "a QuantizeLinear must feed DequantizeLinear nodes only"
    elif node.input[0] not in constants:
        producer = producers.get(node.input[0])
        if producer is None or producer.op_type != "QuantizeLinear":
            yield "a DequantizeLinear must read a QuantizeLinear or a constant INT8 weight"


def _per_channel_problems(node, scale, constants, consumers):
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    source = node.input[0]
    if node.op_type == "QuantizeLinear" and source not in constants:
        yield "per-channel quantization of an activation (only weights may be per-channel)"
        return
    users = consumers.get(node.output[0], [])
    if node.op_type == "QuantizeLinear":  # the weight path: Q -> DQ -> layer
        users = [u for dq in users for u in consumers.get(dq.output[0], [])]
    for user in users:
        wanted = WEIGHT_AXIS.get(user.op_type)
        if wanted is not None and axis != wanted:
            yield f"per-channel axis {axis} on a {user.op_type} weight; TensorRT needs {wanted}"
