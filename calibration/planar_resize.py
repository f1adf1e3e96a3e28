"""The CPU INT8 model's 8-bit nearest upsamplings, run on [N * C, 1, H, W] planes.

ONNX Runtime's CPU provider runs the UNet's QLinearConvs in NHWC and moves each uint8 Resize
between them into NHWC too, where nearest upsampling takes its generic per-element path:
13 ms for 32 channels 256x256 -> 512x512 against 0.4 ms for the same Resize in NCHW, and the
four of them were ~35 ms of the INT8 graph's ~210 ms at the 512 tier (node profile). A Reshape
to planes before the Resize and back after it is a layout ONNX Runtime cannot move a transpose
through, so the Resize stays NCHW behind two uint8 transposes. Each Reshape gets its own
Q/DQ pair with the Resize's scale and zero point, so ONNX Runtime's QDQ fusion runs all three
in uint8: the same values, bit for bit. ``benchmarks/int8_vs_fp32.py`` measures it (its
``int8-nhwc-resize`` variant is the artifact without this rewrite).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

log = logging.getLogger("fuse_trt")

PLANES_SHAPE = "planar_resize.planes_shape"


def _static_channels(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    channels = {}
    for value in (*inferred.graph.value_info, *inferred.graph.input):
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].dim_value > 1:  # one channel: NHWC is NCHW already
            channels[value.name] = dims[1].dim_value
    return channels


def _candidates(graph: onnx.GraphProto, channels: dict[str, int]):
    """(Resize, its DequantizeLinear) for each nearest 4-D Resize of a dequantized tensor
    whose only consumer quantizes it again with the same scale and zero point."""
    producers = {output: node for node in graph.node for output in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for resize in graph.node:
        if resize.op_type != "Resize" or resize.input[0] not in channels:
            continue
        mode = next((helper.get_attribute_value(a) for a in resize.attribute
                     if a.name == "mode"), b"nearest")
        dequantize = producers.get(resize.input[0])
        after = consumers.get(resize.output[0], [])
        if mode != b"nearest" or dequantize is None \
                or dequantize.op_type != "DequantizeLinear" or len(after) != 1 \
                or after[0].op_type != "QuantizeLinear" \
                or list(after[0].input[1:]) != list(dequantize.input[1:]):
            continue
        yield resize, dequantize


def _planar_nodes(resize: onnx.NodeProto, quantization: list[str],
                  image_shape: str) -> list[onnx.NodeProto]:
    base = resize.name or resize.output[0]

    def requantized(name: str) -> list[onnx.NodeProto]:
        return [helper.make_node("QuantizeLinear", [name, *quantization], [f"{name}.q"],
                                 name=f"{name}.q"),
                helper.make_node("DequantizeLinear", [f"{name}.q", *quantization],
                                 [f"{name}.dq"], name=f"{name}.dq")]

    planes, upsampled = f"{base}.planes", f"{base}.upsampled_planes"
    on_planes = helper.make_node("Resize", [f"{planes}.dq", *resize.input[1:]], [upsampled],
                                 name=f"{base}.on_planes")
    on_planes.attribute.extend(resize.attribute)
    return [helper.make_node("Reshape", [resize.input[0], PLANES_SHAPE], [planes],
                             name=f"{base}.to_planes"),
            *requantized(planes), on_planes, *requantized(upsampled),
            helper.make_node("Reshape", [f"{upsampled}.dq", image_shape], [resize.output[0]],
                             name=f"{base}.to_image")]


def resize_on_planes(model: onnx.ModelProto) -> int:
    """Rewrite ``model`` in place; the number of Resize nodes moved onto planes."""
    graph = model.graph
    channels = _static_channels(model)
    found = list(_candidates(graph, channels))
    if not found:
        return 0
    # 0 copies the input's dimension: H and W stay dynamic, -1 takes the batch
    graph.initializer.append(numpy_helper.from_array(np.array([-1, 1, 0, 0], np.int64),
                                                     PLANES_SHAPE))
    for resize, dequantize in found:
        image_shape = f"{resize.name or resize.output[0]}.image_shape"
        graph.initializer.append(numpy_helper.from_array(
            np.array([-1, channels[resize.input[0]], 0, 0], np.int64), image_shape))
        position = list(graph.node).index(resize)
        graph.node.remove(resize)
        for offset, node in enumerate(_planar_nodes(resize, list(dequantize.input[1:]),
                                                    image_shape)):
            graph.node.insert(position + offset, node)
    return len(found)


def rewrite_file(path: Path) -> int:
    """:func:`resize_on_planes` on an ONNX file, saved over it; the number moved."""
    model = onnx.load(str(path))
    moved = resize_on_planes(model)
    if moved:
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
    log.info("%s: %d uint8 Resize node(s) moved onto planes", path, moved)
    return moved
