"""Node order of an exported graph, chosen for memory: depth first from the outputs, so each
branch of the graph is finished (and its temporaries freed) before the next one starts.

ONNX Runtime runs nodes in graph order and the memory plan's estimator reads the same order;
a simplifier's topological order can interleave independent branches (the colour head's
full-resolution statistics with the decoder) and so raise the activation peak.
"""
from __future__ import annotations

import onnx


def depth_first_order(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """A topological order: every output's producers in post-order, inputs left to right."""
    producer = {name: node for node in graph.node for name in node.output if name}
    ordered: list[onnx.NodeProto] = []
    placed: set[int] = set()
    for output in graph.output:
        stack = [(producer[output.name], False)] if output.name in producer else []
        while stack:
            node, inputs_done = stack.pop()
            if id(node) in placed:
                continue
            if inputs_done:
                placed.add(id(node))
                ordered.append(node)
                continue
            stack.append((node, True))
            for name in reversed(node.input):
                if name in producer and id(producer[name]) not in placed:
                    stack.append((producer[name], False))
    ordered += [node for node in graph.node if id(node) not in placed]  # dead ends, if any
    return ordered


def schedule_for_memory(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with its nodes in :func:`depth_first_order` (same graph, same results)."""
    ordered = [onnx.NodeProto.FromString(node.SerializeToString())
               for node in depth_first_order(model.graph)]
    del model.graph.node[:]
    model.graph.node.extend(ordered)
    return model
