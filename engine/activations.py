"""How much activation memory a fusion ONNX needs at one input shape, from the graph alone.

ONNX shape inference fixes every intermediate tensor's shape at (batch, H, W); each tensor
is then alive from the node that produces it to its last consumer (nodes run in the graph's
topological order, one at a time). An elementwise node whose input dies at that node and
has the output's size writes its output in place (as ONNX Runtime's allocation planner and
TensorRT's pointwise fusion do), so it adds nothing. The estimate is the peak, over nodes,
of the bytes alive while that node runs. Graph inputs and outputs are left out (they live in the I/O buffers),
and so are initializers and constants (the weights). This is what an executor that frees
each tensor after its last use must hold; TensorRT's scratch is its own plan of the same
tensors after fusion, so the two are compared wherever a plan is built.

The build's node scheduler (build_engine/schedule.py) compares node orders with the same
count (:meth:`ActivationEstimator.peak_of`), so the order it keeps is the one the plan sizes.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, shape_inference

from fuse_trt.engine.spec import ModelSpec

IN_PLACE_OPS = frozenset({"Abs", "Add", "Clip", "Div", "Exp", "LeakyRelu", "Log", "Mul", "Neg",
                          "Pow", "Reciprocal", "Relu", "Sigmoid", "Sqrt", "Sub", "Tanh"})
FLOAT_TYPES = frozenset({onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
                         onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16})


def element_bytes(elem_type: int, float_bytes: int) -> int:
    """Bytes per element; float tensors take ``float_bytes`` (the precision's activation size)."""
    if elem_type in FLOAT_TYPES:
        return float_bytes
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).itemsize


@dataclass(frozen=True)
class ActivationPeak:
    bytes: int
    node: str  # the node during which the peak is reached
    tensors: int  # how many tensors are alive then


class ActivationEstimator:
    """Peak live activation bytes of one ONNX graph at any (batch, H, W) of its spec, or at
    any static shapes of its inputs (no spec needed)."""

    def __init__(self, model: onnx.ModelProto, spec: ModelSpec | None = None):
        self.model, self.spec = model, spec
        graph = model.graph
        self._constants = ({t.name for t in graph.initializer}
                           | {out for node in graph.node if node.op_type == "Constant"
                              for out in node.output})
        self._io = {v.name for v in (*graph.input, *graph.output)}

    @classmethod
    def from_path(cls, path: Path, spec: ModelSpec) -> ActivationEstimator:
        return cls(onnx.load(str(path)), spec)

    def weights_bytes(self, float_bytes: int = 4) -> int:
        """Initializer bytes, float tensors at ``float_bytes`` each."""
        return sum(math.prod(t.dims) * element_bytes(t.data_type, float_bytes)
                   for t in self.model.graph.initializer)

    def io_shapes(self, batch: int, height: int, width: int) -> dict[str, tuple[int, ...]]:
        """The spec's shape of every graph input and output at (batch, H, W)."""
        graph = self.model.graph
        return {value.name: tuple(self.spec.tensor(value.name).shape(batch, height, width))
                for value in (*graph.input, *graph.output) if value.name not in self._constants}

    def _shaped(self, shapes: Mapping[str, Sequence[int]]) -> onnx.ModelProto:
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        del model.graph.value_info[:]  # stale symbolic shapes would shadow the inferred ones
        for value in (*model.graph.input, *model.graph.output):
            if value.name not in shapes:
                continue
            dims = value.type.tensor_type.shape.dim
            for dim, size in zip(dims, shapes[value.name]):
                dim.Clear()
                dim.dim_value = size
        return shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)

    def tensor_bytes(self, batch: int, height: int, width: int,
                     float_bytes: int) -> dict[str, int]:
        """Bytes of every intermediate tensor at (batch, H, W)."""
        return self.tensor_bytes_at(self.io_shapes(batch, height, width), float_bytes)

    def tensor_bytes_at(self, shapes: Mapping[str, Sequence[int]],
                        float_bytes: int) -> dict[str, int]:
        """Bytes of every intermediate tensor with the graph's inputs at ``shapes``."""
        inferred = self._shaped(shapes)
        sizes = {}
        for value in inferred.graph.value_info:
            tensor_type = value.type.tensor_type
            if not all(d.HasField("dim_value") for d in tensor_type.shape.dim):
                raise ValueError(f"shape inference left {value.name!r} without a static shape")
            dims = [d.dim_value for d in tensor_type.shape.dim]
            sizes[value.name] = math.prod(dims) * element_bytes(tensor_type.elem_type, float_bytes)
        return sizes

    def peak(self, batch: int, height: int, width: int, float_bytes: int) -> ActivationPeak:
        """The largest sum of live intermediate tensors while any one node runs."""
        return self.peak_of(self.model.graph.node, self.tensor_bytes(batch, height, width,
                                                                     float_bytes))

    def peak_at(self, shapes: Mapping[str, Sequence[int]], float_bytes: int) -> ActivationPeak:
        """:meth:`peak` with the graph's inputs at ``shapes``."""
        return self.peak_of(self.model.graph.node, self.tensor_bytes_at(shapes, float_bytes))

    def peak_of(self, nodes: Sequence[onnx.NodeProto], sizes: Mapping[str, int]) -> ActivationPeak:
        """The peak of this graph's nodes run in the order ``nodes``, with tensor ``sizes``
        already known (they are the same in every order, so orders compare without repeating
        shape inference)."""
        last_use = {}
        for index, node in enumerate(nodes):
            for name in node.input:
                last_use[name] = index
        live: dict[str, int] = {}
        best = ActivationPeak(0, "", 0)
        for index, node in enumerate(nodes):
            reusable = self._in_place_input(node, index, live, last_use, sizes)
            for name in node.output:
                if name and name not in self._io and name not in self._constants:
                    live[name] = sizes[name]
            if reusable is not None:
                live[reusable] = 0  # its storage now holds the output
            total = sum(live.values())
            if total > best.bytes:
                best = ActivationPeak(total, node.name or node.op_type,
                                      sum(1 for size in live.values() if size))
            for name in [n for n in live if last_use.get(n, index) <= index]:
                del live[name]
        return best

    @staticmethod
    def _in_place_input(node, index: int, live: dict[str, int], last_use: dict[str, int],
                        sizes: Mapping[str, int]) -> str | None:
        """The live input an elementwise node may overwrite with its output, if any."""
        output = node.output[0] if node.output else ""
        if node.op_type not in IN_PLACE_OPS or output not in sizes:
            return None
        for name in node.input:
            if name in live and live[name] == sizes[output] and last_use.get(name) == index:
                return name
        return None
