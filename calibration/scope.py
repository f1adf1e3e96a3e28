"""Which nodes an INT8 build quantizes, and why every other node stays in floating point.

The default scope, ``between-convs``, quantizes every Conv and the ops that carry activations
from one Conv to the next (Relu, Add, MaxPool, Resize, Concat) where every activation they read
comes out of that chain. ONNX Runtime then runs the UNet trunk in 8 bits from one Q at its
entry to one DQ at its exit (QLinearConv with the Relu folded in, QLinearAdd, 8-bit pooling and
resizing) instead of a float tensor between every pair of convs. What stays floating point:

* ``outside the conv chain``: the colour statistics and transfer ahead of the UNet (reductions
  under the mask, log/exp/pow of a few numbers, the per-pixel colour arithmetic that makes the
  composite the UNet refines) and the blend after it. Q/DQ there adds work without an 8-bit
  kernel to gain, and the output's last bits come from these ops.
* ``narrow conv``: fewer than ``min_channels`` input or output channels (the 7-channel input
  conv and the 3-channel seam head of the default model). ONNX Runtime's INT8 kernel took 2x
  and 5x the time of its FP32 (NCHWc) kernel on those two at 512x512 on this CPU.
* ``--keep-fp``: named by the user. ``not an INT8 op type``: outside ``--int8-ops``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import onnx

BETWEEN_CONVS = "between-convs"
CHAIN_OPS = ("Conv", "Relu", "Add", "MaxPool", "Resize", "Concat")
MIN_INT8_CHANNELS = 8  # ONNX Runtime's NCHWc block on AVX2, as in build_engine.graph_rewrite

OUTSIDE_CHAIN = "outside the conv chain"
NARROW_CONV = "narrow conv"
KEEP_FP = "--keep-fp"
NOT_AN_OP_TYPE = "not an INT8 op type"


@dataclass(frozen=True)
class QuantScope:
    """The node names to quantize and, for every other node, why it stays floating point."""

    int8: tuple[str, ...]
    fp32: dict[str, str]  # node name -> reason
    op_types: dict[str, str]  # node name -> op type, every node

    def describe(self) -> dict:
        """For the manifest: the INT8 nodes by op type; FP32 nodes by reason, narrow convs and
        --keep-fp by name (the rest by op type: the colour head alone is hundreds of nodes)."""
        by_reason: dict[str, dict] = {}
        for name, reason in self.fp32.items():
            entry = by_reason.setdefault(reason, {"count": 0, "op_types": Counter()})
            entry["count"] += 1
            entry["op_types"][self.op_types[name]] += 1
            if reason in (NARROW_CONV, KEEP_FP):
                entry.setdefault("nodes", []).append(name)
        for entry in by_reason.values():
            entry["op_types"] = dict(sorted(entry["op_types"].items()))
        return {"int8_nodes": {"count": len(self.int8), "op_types": dict(sorted(
                    Counter(self.op_types[name] for name in self.int8).items()))},
                "fp32_nodes": by_reason}


def _constants(graph: onnx.GraphProto) -> set[str]:
    names = {tensor.name for tensor in graph.initializer}
    names.update(out for node in graph.node if node.op_type == "Constant" for out in node.output)
    return names


def _channels(node: onnx.NodeProto, weights: dict[str, onnx.TensorProto]) -> int | None:
    """The smaller of a Conv's input and output channel counts, from its weight."""
    weight = weights.get(node.input[1]) if len(node.input) > 1 else None
    if weight is None or len(weight.dims) < 2:
        return None
    group = next((a.i for a in node.attribute if a.name == "group"), 1)
    return min(weight.dims[0], weight.dims[1] * group)


def _conv_chain(graph: onnx.GraphProto, excluded: set[str]) -> set[str]:
    """Convs (but ``excluded`` nodes) and the chain ops whose activations all come out of the chain;
    the graph's node list is topologically sorted, so one pass finds them."""
    constants, produced, chain = _constants(graph), set(), set()
    for node in graph.node:
        activations = [name for name in node.input if name and name not in constants]
        fed_by_chain = activations and all(name in produced for name in activations)
        if node.name not in excluded and (node.op_type == "Conv" or
                                        (node.op_type in CHAIN_OPS and fed_by_chain)):
            chain.add(node.name)
            produced.update(node.output)
    return chain


def quant_scope(model: onnx.ModelProto, op_types: tuple[str, ...] | None, between_convs: bool,
                keep_fp: tuple[str, ...] = (),
                min_channels: int = MIN_INT8_CHANNELS) -> QuantScope:
    """``op_types`` None: every op type; ``between_convs``: only the conv chain of them."""
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    narrow = {node.name for node in graph.node if node.op_type == "Conv"
              and (_channels(node, weights) or min_channels) < min_channels}
    chain = _conv_chain(graph, narrow | set(keep_fp)) if between_convs else None
    int8, fp32 = [], {}
    for node in graph.node:
        if node.name in keep_fp:
            fp32[node.name] = KEEP_FP
        elif node.name in narrow:
            fp32[node.name] = NARROW_CONV
        elif chain is not None and node.name not in chain:
            fp32[node.name] = OUTSIDE_CHAIN
        elif op_types is not None and node.op_type not in op_types:
            fp32[node.name] = NOT_AN_OP_TYPE
        else:
            int8.append(node.name)
    return QuantScope(tuple(int8), fp32, {node.name: node.op_type for node in graph.node})
