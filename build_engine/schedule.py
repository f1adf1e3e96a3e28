"""A memory-aware node order: the same graph, nodes re-sequenced so fewer bytes live at once.

Greedy topological sort: of the nodes whose inputs are ready, run the one that adds the
fewest bytes (outputs made minus inputs it frees), ties in file order. The exported order
interleaves the colour head's full-resolution statistics with the decoder; run to completion
they are gone before the decoder's skips and upsamples exist. Bit-exact: no value changes.
"""
from __future__ import annotations

import heapq
import logging

import onnx

from fuse_trt.build_engine.activation_peak import activation_peak_bytes, tensor_bytes

log = logging.getLogger("fuse_trt")


def memory_ordered(model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]]) -> onnx.ModelProto:
    """``model`` with the greedy node order when its activation peak at ``shapes`` is lower."""
    nodes = list(model.graph.node)
    order = _greedy_order(model, tensor_bytes(model, shapes))
    reordered = onnx.ModelProto()
    reordered.CopyFrom(model)
    del reordered.graph.node[:]
    reordered.graph.node.extend(nodes[index] for index in order)
    before, after = activation_peak_bytes(model, shapes), activation_peak_bytes(reordered, shapes)
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
