from dataclasses import replace

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from fuse_trt.build_engine.export import ExportConfig, export_onnx
from fuse_trt.build_engine.graph_rewrite import inference_shaped
from fuse_trt.build_engine.schedule import memory_ordered
from fuse_trt.engine.activations import ActivationEstimator
from fuse_trt.engine.unet import TINY_IDENTITY_UNET_CONFIG, TINY_UNET_CONFIG
from tests.conftest import perturbed_unet

RNG = np.random.default_rng(0)


def _image(name, channels):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["n", channels, "h", "w"])


def _model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return onnx.shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def _weight(name, *shape):
    return numpy_helper.from_array(RNG.normal(size=shape).astype(np.float32), name)


def _run(model, feed):
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, feed)[0]


def _ops(model):
    return [node.op_type for node in model.graph.node]


def _feed(**channels):
    return {name: RNG.random((1, count, 8, 10), dtype=np.float32)
            for name, count in channels.items()}


SHAPES = {"a": (1, 8, 8, 10), "b": (1, 9, 8, 10)}


def _conv_over_concat(extra_reader=False, a_channels=8):
    nodes = [helper.make_node("Concat", ["a", "b"], ["cat"], axis=1),
             helper.make_node("Conv", ["cat", "w", "bias"], ["y"], pads=[1, 1, 1, 1])]
    outputs = [_image("y", 4)]
    if extra_reader:
        nodes.append(helper.make_node("Relu", ["cat"], ["r"]))
        outputs.append(_image("r", 17))
    return _model(nodes, [_image("a", a_channels), _image("b", 9)], outputs,
                  [_weight("w", 4, a_channels + 9, 3, 3), _weight("bias", 4)])


def test_conv_over_concat_becomes_summed_convs_with_the_same_output():
    model = _conv_over_concat()
    rewritten = inference_shaped(model, SHAPES)
    assert "Concat" not in _ops(rewritten) and _ops(rewritten).count("Conv") == 2
    feed = _feed(a=8, b=9)
    np.testing.assert_allclose(_run(rewritten, feed), _run(model, feed), atol=1e-5)


def test_concat_read_elsewhere_is_kept():
    rewritten = inference_shaped(_conv_over_concat(extra_reader=True), SHAPES)
    assert _ops(rewritten).count("Concat") == 1 and _ops(rewritten).count("Conv") == 1


def test_concat_of_a_narrow_part_is_kept():
    rewritten = inference_shaped(_conv_over_concat(a_channels=3),
                                 {"a": (1, 3, 8, 10), "b": (1, 9, 8, 10)})
    assert _ops(rewritten).count("Concat") == 1 and _ops(rewritten).count("Conv") == 1


@pytest.mark.parametrize(("scale", "folded"), [(4.0, True), (0.5, True), (3.0, False)])
def test_power_of_two_scale_after_conv_folds_into_it_bit_exactly(scale, folded):
    nodes = [helper.make_node("Conv", ["a", "w", "bias"], ["c"]),
             helper.make_node("Mul", ["s", "c"], ["y"])]
    model = _model(nodes, [_image("a", 2)], [_image("y", 3)],
                   [_weight("w", 3, 2, 1, 1), _weight("bias", 3),
                    numpy_helper.from_array(np.array(scale, np.float32), "s")])
    rewritten = inference_shaped(model, {"a": (1, 2, 8, 10)})
    assert ("Mul" not in _ops(rewritten)) == folded
    feed = _feed(a=2)
    np.testing.assert_array_equal(_run(rewritten, feed), _run(model, feed))


def _interleaved_branches():
    """Two branches that each make a 16-channel tensor and shrink it; the file order makes
    both big tensors before shrinking either."""
    nodes = [helper.make_node("Tile", ["a", "reps"], ["big1"]),
             helper.make_node("Tile", ["a", "reps"], ["big2"]),
             helper.make_node("ReduceMean", ["big1"], ["m1"], axes=[1], keepdims=1),
             helper.make_node("ReduceMean", ["big2"], ["m2"], axes=[1], keepdims=1),
             helper.make_node("Add", ["m1", "m2"], ["y"])]
    reps = numpy_helper.from_array(np.array([1, 16, 1, 1], np.int64), "reps")
    return _model(nodes, [_image("a", 1)], [_image("y", 1)], [reps])


def test_memory_order_lowers_the_peak_and_keeps_the_output():
    model, shapes = _interleaved_branches(), {"a": (1, 1, 8, 10)}
    ordered = memory_ordered(model, shapes)
    one = 8 * 10 * 4
    # counted as the memory plan counts (graph I/O left out): in file order both Tiles'
    # outputs live while the first mean is made (big1 + big2 + m1); the greedy order shrinks
    # big1 before big2 exists (big2 + m1 + m2)
    peak = {name: ActivationEstimator(graph).peak_at(shapes, 4).bytes
            for name, graph in (("file", model), ("ordered", ordered))}
    assert peak == {"file": (16 + 16 + 1) * one, "ordered": (16 + 1 + 1) * one}
    onnx.checker.check_model(ordered, full_check=True)
    feed = _feed(a=1)
    np.testing.assert_array_equal(_run(ordered, feed), _run(model, feed))


@pytest.mark.parametrize("config", [TINY_UNET_CONFIG, TINY_IDENTITY_UNET_CONFIG])
def test_exported_unet_has_no_wide_concatenation_into_a_conv_and_matches_the_plain_export(
        tmp_path, config):
    config = replace(config, base_width=8)  # decoder parts of 8 and 16 channels: all split
    model, spec = perturbed_unet(config), config.spec()
    plain = export_onnx(model, spec, tmp_path / "plain.onnx", ExportConfig(inference_shaped=False))
    shaped = export_onnx(model, spec, tmp_path / "shaped.onnx")
    graph = onnx.load(str(shaped)).graph
    producers = {out: node.op_type for node in graph.node for out in node.output}
    concat_inputs = {out: list(node.input) for node in graph.node for out in node.output
                     if node.op_type == "Concat"}
    over_concat = [concat_inputs[node.input[0]] for node in graph.node
                   if node.op_type == "Conv" and producers.get(node.input[0]) == "Concat"]
    assert over_concat == [["composite", "mask", "context"]]  # the 7-channel input stays
    feed = spec.example_feed(2, 48, 64)
    np.testing.assert_allclose(_run(onnx.load(str(shaped)), feed),
                               _run(onnx.load(str(plain)), feed), atol=1e-5)
