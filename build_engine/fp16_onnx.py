"""FP16 ONNX: float tensors converted to float16 by rule, inputs and outputs kept float32
(ONNX Runtime's fp16 artifact) or float16 too (``keep_io_types=False``).

TensorRT 11 (and 10.x asked for strong typing) takes precision from the ONNX types, so its
FP16 engines are built from the FP16-I/O file: the plan then takes and returns FP16. What stays FP32 is decided by :func:`fp32_rules`:

* sum-like reductions (ReduceSum/Mean/..., CumSum, and MatMul/Gemm whose contraction runs
  over a dynamic axis): they accumulate up to N x H x W values, which float16 neither holds
  nor adds precisely; their results are means and fit float16 again;
* every node that makes or reads a tensor the range audit found above the bound.

The converter's own block list (Resize, CumSum, Min, Max, ...) applies as well. The same
nodes are pinned to FP32 on TensorRT layers in weakly typed FP16 builds. onnxconverter-common
is an ``export`` extra.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path

import onnx
from onnx import TensorProto

from fuse_trt.build_engine.range_audit import DEFAULT_BOUND, TierRanges

log = logging.getLogger("fuse_trt")

SUM_REDUCTIONS = ("ReduceSum", "ReduceMean", "ReduceSumSquare", "ReduceL1", "ReduceL2",
                  "ReduceLogSumExp", "ReduceProd", "GlobalAveragePool", "GlobalLpPool", "CumSum")
CONTRACTIONS = ("MatMul", "Gemm")
REDUCTION_REASON = "sum-like reduction over the image"
CONTRACTION_REASON = "matrix product over a dynamic (image) axis"
RANGE_REASON = "range audit: {tensor} reaches {value:.3g} (bound {bound:g})"


def _dynamic_contraction(node: onnx.NodeProto, shapes: Mapping[str, list]) -> bool:
    dims = shapes.get(node.input[0])
    if not dims:
        return False
    transposed = node.op_type == "Gemm" and any(a.name == "transA" and a.i for a in node.attribute)
    dim = dims[-2] if transposed else dims[-1]
    return not dim.HasField("dim_value")


def rule_fp32_nodes(model: onnx.ModelProto) -> dict[str, str]:
    """{node name: why} for the nodes that stay FP32 whatever their range."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: list(v.type.tensor_type.shape.dim)
              for v in (*inferred.graph.input, *inferred.graph.value_info)}
    kept = {}
    for node in inferred.graph.node:
        if node.op_type in SUM_REDUCTIONS:
            kept[node.name] = REDUCTION_REASON
        elif node.op_type in CONTRACTIONS and _dynamic_contraction(node, shapes):
            kept[node.name] = CONTRACTION_REASON
    return kept


def range_fp32_nodes(model: onnx.ModelProto, measured: list[TierRanges],
                     bound: float = DEFAULT_BOUND) -> dict[str, str]:
    """{node name: why} for the nodes that make or read a tensor over ``bound``."""
    worst = {}
    for tier in measured:
        for tensor, value in tier.peaks.items():
            if not value <= bound:
                worst[tensor] = max(worst.get(tensor, 0.0), value)
    kept = {}
    for node in model.graph.node:
        for tensor in (*node.output, *node.input):
            if tensor in worst:
                kept[node.name] = RANGE_REASON.format(tensor=tensor, value=worst[tensor],
                                                      bound=bound)
                break
    return kept


def fp32_rules(model: onnx.ModelProto, measured: list[TierRanges] = (),
               bound: float = DEFAULT_BOUND) -> dict[str, str]:
    """Every node the FP16 graph keeps FP32, with the reason (rule first, then range)."""
    kept = range_fp32_nodes(model, list(measured), bound)
    kept.update(rule_fp32_nodes(model))
    unnamed = [n.op_type for n in model.graph.node if not n.name]
    if unnamed:
        log.warning("%d unnamed ONNX nodes cannot be kept FP32 by name", len(unnamed))
    kept.pop("", None)
    return kept


def convert_fp16(model: onnx.ModelProto, fp32_nodes: Mapping[str, str] = {},
                 keep_io_types: bool = True) -> onnx.ModelProto:
    """The FP16 graph of ``model`` with ``fp32_nodes`` (and the converter's list) left FP32."""
    from onnxconverter_common import float16

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    # Stale shape-inference types on ops the converter keeps in FP32 (Resize, CumSum) make
    # it emit Casts whose declared type contradicts their input; it re-infers without them.
    del copy.graph.value_info[:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one line per weight it rounds
        converted = float16.convert_float_to_float16(copy, keep_io_types=keep_io_types,
                                                     node_block_list=sorted(fp32_nodes))
    return drop_float16_round_trips(converted)


def _cast_to(node: onnx.NodeProto) -> int | None:
    if node.op_type != "Cast":
        return None
    return next((a.i for a in node.attribute if a.name == "to"), None)


def drop_float16_round_trips(model: onnx.ModelProto) -> onnx.ModelProto:
    """Between two FP32 nodes the converter casts to float16 and back, which overflows and
    rounds what both keep FP32 for; the second Cast becomes an Identity of the FP32 tensor."""
    producer = {out: node for node in model.graph.node for out in node.output}
    for node in model.graph.node:
        first = producer.get(node.input[0]) if node.input else None
        if _cast_to(node) == TensorProto.FLOAT and first is not None \
                and _cast_to(first) == TensorProto.FLOAT16 \
                and _is_float32(first.input[0], producer, model):
            node.op_type, node.input[0] = "Identity", first.input[0]
            del node.attribute[:]
    used = {name for node in model.graph.node for name in node.input} | {
        value.name for value in model.graph.output}
    dead = [n for n in model.graph.node if _cast_to(n) == TensorProto.FLOAT16
            and not any(out in used for out in n.output)]
    removed = {out for node in dead for out in node.output}
    for node in dead:
        model.graph.node.remove(node)
    stale = [v for v in model.graph.value_info if v.name in removed]
    for value in stale:
        model.graph.value_info.remove(value)
    return model


def _is_float32(name: str, producer: dict, model: onnx.ModelProto) -> bool:
    source = producer.get(name)
    if source is None:
        inputs = {v.name: v.type.tensor_type.elem_type for v in model.graph.input}
        return inputs.get(name) == TensorProto.FLOAT
    return _cast_to(source) in (None, TensorProto.FLOAT) and source.op_type != "Cast" or \
        _cast_to(source) == TensorProto.FLOAT


def save_model_atomic(model: onnx.ModelProto, dst: Path) -> Path:
    dst = Path(dst)
    temp = dst.with_name(f".{dst.name}.tmp")
    onnx.save(model, str(temp))
    temp.replace(dst)
    return dst


def fp16_onnx(src: Path, dst: Path, keep_io_types: bool = True,
              fp32_nodes: Mapping[str, str] | None = None) -> Path:
    """Write the FP16 ONNX of ``src``; ``fp32_nodes`` None: the rule-based list alone."""
    model = onnx.load(str(src))
    kept = rule_fp32_nodes(model) if fp32_nodes is None else fp32_nodes
    return save_model_atomic(convert_fp16(model, kept, keep_io_types), dst)
