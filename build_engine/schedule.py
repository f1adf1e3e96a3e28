"""Node order of an exported graph, chosen for memory: depth first from the outputs, so each
branch of the graph is finished (and its temporaries freed) before the next one starts.

ONNX Runtime runs nodes in graph order and the memory plan's estimator reads the same order;
a simplifier's topological order can interleave independent branches (the colour head's
full-resolution statistics with the decoder) and so raise the activation peak.

:func:`memory_ordered` then tries a greedy order (of the ready nodes, the one that adds the
fewest bytes: outputs made minus inputs freed, ties in file order) and keeps it only when its
activation peak at the sizing shapes is lower, counted by the memory plan's own estimator
(engine/activations.py: graph I/O and weights left out, elementwise nodes in place). Both are
bit-exact: no value changes.
"""
from __future__ import annotations

import heapq
import logging

import onnx

from fuse_trt.engine.activations import ActivationEstimator

log = logging.getLogger("fuse_trt")

FLOAT_BYTES = 4  # the export is FP32


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


def memory_ordered(model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]]) -> onnx.ModelProto:
    """``model`` with the greedy node order when its activation peak at ``shapes`` is lower."""
    nodes = list(model.graph.node)
    estimator = ActivationEstimator(model)
    sizes = estimator.tensor_bytes_at(shapes, FLOAT_BYTES)  # the same for every node order
    order = [nodes[index] for index in _greedy_order(model, sizes)]
    before, after = estimator.peak_of(nodes, sizes).bytes, estimator.peak_of(order, sizes).bytes
    reordered = onnx.ModelProto()
    reordered.CopyFrom(model)
    del reordered.graph.node[:]
    reordered.graph.node.extend(order)
    log.info("node order: activation peak %.1f -> %.1f MiB", before / 2**20, after / 2**20)
    return reordered if after < before else model


def _greedy_order(model: onnx.ModelProto, sizes: dict[str, int]) -> list[int]:
    graph = model.graph
    producer = {name: index for index, node in enumerate(graph.node) for name in node.output}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in set(node.input):
            readers[name] = readers.get(name, 0) + 1
    kept = {value.name for value in graph.output}
    waiting = [len({name for name in node.input if name in producer}) for node in graph.node]
    dependants: dict[int, list[int]] = {}
    for index, node in enumerate(graph.node):
        for name in {name for name in node.input if name in producer}:
            dependants.setdefault(producer[name], []).append(index)

    def cost(index: int) -> int:
        node = graph.node[index]
        made = sum(sizes.get(name, 0) for name in node.output)
        freed = sum(sizes.get(name, 0) for name in set(node.input)
                    if readers.get(name) == 1 and name not in kept)
        return made - freed

    ready = [(cost(index), index) for index, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, index = heapq.heappop(ready)
        order.append(index)
        for name in set(graph.node[index].input):
            readers[name] -= 1
        for dependant in dependants.get(index, []):
            waiting[dependant] -= 1
            if waiting[dependant] == 0:
                heapq.heappush(ready, (cost(dependant), dependant))
        ready = [(cost(i), i) for _, i in ready]  # frees changed with the readers just done
        heapq.heapify(ready)
    return order
