"""Exact ONNX rewrites that make an exported graph inference-shaped.

* A convolution over a channel concatenation becomes one convolution per part (the weight
  split along its input channels, the bias on the last) summed: the concatenated tensor never
  exists, and ONNX Runtime's NCHWc pass and TensorRT fuse the sum into the convolution.
  Only when every part is at least MIN_SPLIT_CHANNELS wide: over narrow parts (the network's
  7-channel input) ONNX Runtime leaves the sums unfused, and the profile showed the split
  convs plus their Adds slower and the partial sums larger than the concatenation.
* Nodes are re-sequenced so fewer bytes live at once (build_engine/schedule.py).
* A multiply by a power-of-two scalar constant right after a convolution folds into its
  weight and bias (exact: scaling by 2**k changes no bit).

Both change nothing beyond float rounding; the build's validation proves it per tier.
"""
from __future__ import annotations

import logging
import math

import numpy as np
import onnx
from onnx import helper, numpy_helper

from fuse_trt.build_engine.schedule import memory_ordered

log = logging.getLogger("fuse_trt")

MIN_SPLIT_CHANNELS = 8  # ONNX Runtime's NCHWc block on AVX2


def inference_shaped(model: onnx.ModelProto,
                     sizing_shapes: dict[str, tuple[int, ...]]) -> onnx.ModelProto:
    """``model`` with every rewrite applied, shape-inferred; the input is left untouched.
    ``sizing_shapes`` (static input shapes) size the tensors the node order is chosen by."""
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    rewritten = onnx.shape_inference.infer_shapes(rewritten)
    split = _split_concat_convs(rewritten)
    folded = _fold_power_of_two_scales(rewritten)
    log.info("graph rewrite: %d conv-over-concat split, %d scalings folded", split, folded)
    _drop_unused_initializers(rewritten.graph)
    del rewritten.graph.value_info[:]  # stale after renames; inferred afresh
    rewritten = memory_ordered(rewritten, sizing_shapes)
    return onnx.shape_inference.infer_shapes(rewritten, strict_mode=True)


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input}
    for tensor in [tensor for tensor in graph.initializer if tensor.name not in used]:
        graph.initializer.remove(tensor)


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    found: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def _channels(graph: onnx.GraphProto, name: str) -> int | None:
    """The static channel count (axis 1) of a value, from shape inference, else None."""
    for value in (*graph.input, *graph.value_info, *graph.output):
        if value.name == name:
            dims = value.type.tensor_type.shape.dim
            return dims[1].dim_value if len(dims) > 1 and dims[1].dim_value > 0 else None
    return None


def _attribute(node: onnx.NodeProto, name: str, default):
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _initializers(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    return {tensor.name: tensor for tensor in graph.initializer}


def _split_concat_convs(model: onnx.ModelProto) -> int:
    graph = model.graph
    producers = {output: node for node in graph.node for output in node.output}
    consumers = _consumers(graph)
    initializers = _initializers(graph)
    count = 0
    for conv in [node for node in graph.node if node.op_type == "Conv"]:
        concat = producers.get(conv.input[0])
        if concat is None or concat.op_type != "Concat" or _attribute(concat, "axis", 0) != 1 \
                or len(consumers[concat.output[0]]) != 1 or _attribute(conv, "group", 1) != 1 \
                or conv.input[1] not in initializers:
            continue
        widths = [_channels(graph, name) for name in concat.input]
        if None in widths or min(widths) < MIN_SPLIT_CHANNELS:
            continue
        _replace_with_split(graph, conv, concat, widths, initializers)
        count += 1
    return count


def _replace_with_split(graph, conv, concat, widths, initializers) -> None:
    weight = numpy_helper.to_array(initializers[conv.input[1]])
    bias = conv.input[2] if len(conv.input) > 2 else ""
    starts = np.cumsum([0, *widths])
    partials, nodes = [], []
    for index, (part, start, stop) in enumerate(zip(concat.input, starts, starts[1:])):
        weight_name = f"{conv.input[1]}.part{index}"
        graph.initializer.append(numpy_helper.from_array(
            np.ascontiguousarray(weight[:, start:stop]), weight_name))
        last = index == len(widths) - 1
        inputs = [part, weight_name, *([bias] if last and bias else [])]
        output = f"{conv.output[0]}.part{index}"
        nodes.append(helper.make_node("Conv", inputs, [output], name=f"{conv.name}.part{index}",
                                      **{a.name: helper.get_attribute_value(a)
                                         for a in conv.attribute}))
        partials.append(output)
    total = partials[0]
    for index, partial in enumerate(partials[1:], start=1):
        output = conv.output[0] if index == len(partials) - 1 else f"{conv.output[0]}.sum{index}"
        nodes.append(helper.make_node("Add", [total, partial], [output],
                                      name=f"{conv.name}.sum{index}"))
        total = output
    _splice(graph, [concat, conv], nodes)


def _splice(graph: onnx.GraphProto, removed: list[onnx.NodeProto],
            added: list[onnx.NodeProto]) -> None:
    """Put ``added`` where the last of ``removed`` was (keeps topological order)."""
    position = max(list(graph.node).index(node) for node in removed) - len(removed) + 1
    for node in removed:
        graph.node.remove(node)
    for offset, node in enumerate(added):
        graph.node.insert(position + offset, node)


def _scalar_constant(initializers, name: str) -> float | None:
    if name not in initializers:
        return None
    value = numpy_helper.to_array(initializers[name])
    return float(value) if value.size == 1 else None


def _is_power_of_two(value: float) -> bool:
    return value > 0 and math.frexp(value)[0] == 0.5


def _fold_power_of_two_scales(model: onnx.ModelProto) -> int:
    graph = model.graph
    producers = {output: node for node in graph.node for output in node.output}
    consumers = _consumers(graph)
    initializers = _initializers(graph)
    outputs = {value.name for value in graph.output}
    count = 0
    for mul in [node for node in graph.node if node.op_type == "Mul"]:
        for tensor, constant in (mul.input, reversed(mul.input)):
            scale = _scalar_constant(initializers, constant)
            conv = producers.get(tensor)
            if scale is None or not _is_power_of_two(scale) or conv is None \
                    or conv.op_type != "Conv" or len(consumers[tensor]) != 1 \
                    or tensor in outputs or conv.input[1] not in initializers:
                continue
            _scale_conv(graph, conv, scale, initializers)
            conv.output[0] = mul.output[0]
            graph.node.remove(mul)
            count += 1
            break
    return count


def _scale_conv(graph, conv, scale: float, initializers) -> None:
    """Scale the conv's weight and bias by ``scale`` into fresh initializers."""
    for position in range(1, len(conv.input)):
        source = numpy_helper.to_array(initializers[conv.input[position]])
        name = f"{conv.input[position]}.scaled"
        graph.initializer.append(numpy_helper.from_array(
            (source * np.asarray(scale, source.dtype)).astype(source.dtype), name))
        conv.input[position] = name
