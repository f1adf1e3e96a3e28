"""Peak live activation bytes of an ONNX graph at one input shape, from shape inference.

A tensor lives from the node that makes it to the last node that reads it (graph inputs from
the start, graph outputs to the end); nodes run in the file's order. Weights are not counted.
This is the ideal a planner that reuses freed memory reaches; in-place reuse is ignored.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper


def activation_peak_bytes(model: onnx.ModelProto, input_shapes: dict[str, tuple[int, ...]]) -> int:
    """Largest sum of live activation bytes over the node sequence at ``input_shapes``."""
    return peak_bytes(model.graph, tensor_bytes(model, input_shapes))


def peak_bytes(graph: onnx.GraphProto, sizes: dict[str, int]) -> int:
    """:func:`activation_peak_bytes` for tensor ``sizes`` already known: any order of the same
    nodes has the same sizes, so orders are compared without repeating shape inference."""
    last_use = {name: len(graph.node) for name in (v.name for v in graph.output)}
    for index, node in enumerate(graph.node):
        for name in node.input:
            if name in sizes:
                last_use[name] = max(last_use.get(name, index), index)
    live = {value.name for value in graph.input if value.name in sizes}
    current = sum(sizes[name] for name in live)
    peak = current
    for index, node in enumerate(graph.node):
        made = [name for name in node.output if name in sizes]
        current += sum(sizes[name] for name in made)
        live.update(made)
        peak = max(peak, current)
        for name in [name for name in live if last_use.get(name, index) <= index]:
            current -= sizes[name]
            live.discard(name)
    return peak


def _with_static_inputs(model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]]):
    static = onnx.ModelProto()
    static.CopyFrom(model)
    del static.graph.value_info[:]
    for value in static.graph.input:
        if value.name in shapes:
            dims = value.type.tensor_type.shape.dim
            for dim, size in zip(dims, shapes[value.name]):
                dim.Clear()
                dim.dim_value = size
    return onnx.shape_inference.infer_shapes(static, strict_mode=True, data_prop=True)


def tensor_bytes(model: onnx.ModelProto,
                 input_shapes: dict[str, tuple[int, ...]]) -> dict[str, int]:
    """Bytes of every activation (not weights) at ``input_shapes``."""
    model = _with_static_inputs(model, input_shapes)
    initializers = {tensor.name for tensor in model.graph.initializer}
    sizes = {}
    for value in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        tensor = value.type.tensor_type
        dims = [dim.dim_value for dim in tensor.shape.dim]
        if value.name in initializers or not dims and not tensor.HasField("shape") \
                or any(size <= 0 for size in dims):
            continue
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type)).itemsize
        sizes[value.name] = int(np.prod(dims, dtype=np.int64)) * itemsize
    return sizes
