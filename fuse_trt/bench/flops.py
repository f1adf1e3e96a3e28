"""How much work the UNet is, and how fast this machine can do dense FP32 math.

FLOPs are counted once, from the FP32 ONNX graph with its inputs fixed to the measured shape
and onnx shape inference filling in every tensor: 2 * MACs of each Conv, ConvTranspose,
MatMul and Gemm (elementwise ops are ignored; they are a fraction of a percent here). The
peak is a large FP32 GEMM (``torch.matmul``, NumPy when torch is absent) timed in the same
run, so "achieved GFLOP/s" can be read against what the machine does at its best.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from fuse_trt.engine.spec import ModelSpec
from fuse_trt.bench.stats import median

COUNTED_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")


def _fixed_input_model(onnx_path: Path, spec: ModelSpec, batch: int, height: int, width: int):
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    graph_inputs = {value.name: value for value in model.graph.input}
    for tensor in spec.inputs:
        dims = graph_inputs[tensor.name].type.tensor_type.shape.dim
        for dim, size in zip(dims, tensor.shape(batch, height, width)):
            dim.Clear()
            dim.dim_value = size
    return onnx.shape_inference.infer_shapes(model, data_prop=True)


def _shapes(model) -> dict[str, tuple[int, ...]]:
    shapes = {}
    graph = model.graph
    for value in (*graph.input, *graph.value_info, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if all(dim.HasField("dim_value") for dim in dims):
            shapes[value.name] = tuple(dim.dim_value for dim in dims)
    for initializer in graph.initializer:
        shapes[initializer.name] = tuple(initializer.dims)
    return shapes


def _node_flops(node, shapes: Mapping[str, tuple[int, ...]]) -> int:
    if node.op_type == "Conv":  # weight [Cout, Cin/group, kh, kw], output [N, Cout, Ho, Wo]
        return 2 * math.prod(shapes[node.output[0]]) * math.prod(shapes[node.input[1]][1:])
    if node.op_type == "ConvTranspose":  # weight [Cin, Cout/group, kh, kw]
        return 2 * math.prod(shapes[node.input[0]]) * math.prod(shapes[node.input[1]][1:])
    left, output = shapes[node.input[0]], shapes[node.output[0]]
    if node.op_type == "MatMul":
        return 2 * math.prod(output) * left[-1]
    trans_a = any(a.name == "transA" and a.i for a in node.attribute)  # Gemm
    return 2 * math.prod(output) * left[0 if trans_a else 1]


def onnx_flops_by_op(onnx_path: Path, spec: ModelSpec, batch: int, height: int,
                     width: int) -> dict[str, int]:
    """FLOPs (2 x multiply-accumulates) per counted op type for one run at (batch, H, W)."""
    model = _fixed_input_model(onnx_path, spec, batch, height, width)
    shapes = _shapes(model)
    totals = dict.fromkeys(COUNTED_OPS, 0)
    for node in _all_nodes(model.graph):
        if node.op_type not in COUNTED_OPS:
            continue
        missing = [name for name in (*node.input[:2], node.output[0]) if name not in shapes]
        if missing:
            raise ValueError(f"{onnx_path}: shape inference left {missing} of {node.op_type} "
                             f"node {node.name!r} unknown; cannot count FLOPs")
        totals[node.op_type] += _node_flops(node, shapes)
    return totals


def onnx_flops(onnx_path: Path, spec: ModelSpec, batch: int, height: int, width: int) -> int:
    """FLOPs of one run of the ONNX graph at (batch, H, W): Conv, ConvTranspose, MatMul, Gemm."""
    return sum(onnx_flops_by_op(onnx_path, spec, batch, height, width).values())


def _all_nodes(graph):
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.g is not None and attribute.g.node:
                yield from _all_nodes(attribute.g)


@dataclass(frozen=True)
class GemmPeak:
    """The measured dense FP32 matrix-multiply rate of this machine."""

    gflops: float
    size: int
    median_ms: float
    repeats: int
    library: str
    threads: int | None

    def to_json(self) -> dict:
        return asdict(self)


def gemm_peak(size: int = 2048, repeats: int = 10, warmup: int = 3) -> GemmPeak:
    """Median-time GFLOP/s of a ``size`` x ``size`` FP32 matmul (torch, else NumPy)."""
    try:
        import torch

        left, right = torch.rand(size, size), torch.rand(size, size)
        multiply, library, threads = torch.matmul, f"torch.matmul {torch.__version__}", \
            torch.get_num_threads()
    except ImportError:
        import numpy as np

        left = np.random.default_rng(0).random((size, size), dtype=np.float32)
        right = left.T.copy()
        multiply, library, threads = np.matmul, f"numpy.matmul {np.__version__}", None
    for _ in range(warmup):
        multiply(left, right)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        multiply(left, right)
        times.append(time.perf_counter() - start)
    seconds = median(sorted(times))
    return GemmPeak(gflops=2.0 * size ** 3 / seconds / 1e9, size=size, median_ms=seconds * 1e3,
                    repeats=repeats, library=library, threads=threads)
