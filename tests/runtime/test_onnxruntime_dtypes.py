"""The ONNX Runtime backend allocates and binds each tensor in its TensorSpec dtype."""
import numpy as np
import onnx
from onnx import TensorProto, helper

from fuse_trt.engine.spec import ModelSpec, TensorSpec
from fuse_trt.engine.tiers import TierTable
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend


def half_model(path):
    """fused = composite * mask, every tensor float16."""
    dims = ["batch", 3, "height", "width"]
    graph = helper.make_graph(
        [helper.make_node("Mul", ["composite", "mask"], ["fused"])], "half",
        [helper.make_tensor_value_info("composite", TensorProto.FLOAT16, dims),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT16, ["batch", 1, "height", "width"])],
        [helper.make_tensor_value_info("fused", TensorProto.FLOAT16, dims)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_float16_tensors_are_bound_as_float16(tmp_path):
    spec = ModelSpec("half", inputs=(TensorSpec("composite", 3, dtype="float16"),
                                     TensorSpec("mask", 1, dtype="float16")),
                     outputs=(TensorSpec("fused", 3, dtype="float16"),))
    tiers = TierTable.from_short_edges((16, 32), stride=16, max_batch=2)
    rng = np.random.default_rng(0)
    composite = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    mask = rng.random((16, 16), dtype=np.float32)
    feed = spec.feed([{"composite": composite, "mask": mask}] * 2)
    with OnnxRuntimeBackend(half_model(tmp_path / "half.onnx"), spec, tiers) as backend:
        fused = backend.infer("16", feed)["fused"]
        flat = backend._flat
    assert fused.dtype == np.float16 and fused.shape == (2, 3, 16, 16)
    assert all(array.dtype == np.float16 for array in flat.values())
    np.testing.assert_array_equal(fused, feed["composite"] * feed["mask"])
