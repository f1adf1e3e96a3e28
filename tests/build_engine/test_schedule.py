"""The memory schedule: branches finish before the next starts; the graph stays the same."""
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from fuse_trt.build_engine.schedule import depth_first_order, schedule_for_memory
from fuse_trt.engine.activations import ActivationEstimator
from fuse_trt.engine.spec import ModelSpec, TensorSpec

SPEC = ModelSpec(name="two-branches", inputs=(TensorSpec("x", 1),), outputs=(TensorSpec("y", 1),))


def interleaved_branches() -> onnx.ModelProto:
    """Two independent 4-channel branches whose nodes alternate, joined at the end."""
    nodes = []
    for step in range(3):
        for branch in "ab":
            source = "x" if step == 0 else f"{branch}{step - 1}"
            op = "Concat" if step == 0 else "Relu"
            inputs = [source] * 4 if step == 0 else [source]
            extra = {"axis": 1} if step == 0 else {}
            nodes.append(helper.make_node(op, inputs, [f"{branch}{step}"], **extra))
    nodes += [helper.make_node("ReduceMean", ["a2"], ["ma"], axes=[1], keepdims=1),
              helper.make_node("ReduceMean", ["b2"], ["mb"], axes=[1], keepdims=1),
              helper.make_node("Add", ["ma", "mb"], ["y"])]
    dims = ["batch", 1, "height", "width"]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_depth_first_order_finishes_one_branch_before_the_next():
    order = [node.output[0] for node in depth_first_order(interleaved_branches().graph)]
    assert order == ["a0", "a1", "a2", "ma", "b0", "b1", "b2", "mb", "y"]


def test_the_schedule_lowers_the_activation_peak_and_keeps_the_results():
    before = interleaved_branches()
    after = schedule_for_memory(interleaved_branches())
    onnx.checker.check_model(after, full_check=True)
    peak = {name: ActivationEstimator(model, SPEC).peak(1, 8, 8, 4).bytes
            for name, model in (("before", before), ("after", after))}
    # 8x8 float32 planes of 256 bytes. Interleaved, at b2: a2 + b1 + b2 (12 planes).
    # Scheduled, at b1: ma + b0 + b1 (9 planes).
    assert peak["before"] == 12 * 256 and peak["after"] == 9 * 256
    feed = {"x": np.random.default_rng(0).random((1, 1, 8, 8), dtype=np.float32)}
    results = [ort.InferenceSession(model.SerializeToString(),
                                    providers=["CPUExecutionProvider"]).run(None, feed)[0]
               for model in (before, after)]
    np.testing.assert_array_equal(results[0], results[1])
