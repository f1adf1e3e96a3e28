"""FLOP counting from the ONNX graph against hand-computed values, and the GEMM peak."""
import onnx
from onnx import TensorProto, helper, numpy_helper
import numpy as np

from fuse_trt.bench.flops import gemm_peak, onnx_flops, onnx_flops_by_op
from fuse_trt.engine.spec import ModelSpec, TensorSpec


def _conv_gemm_model(path):
    """x[N,3,H,W] -Conv(8,3x3,pad 1)-> [N,8,H,W] -GlobalAveragePool-> Flatten -Gemm(8->5)-> y."""
    weight = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")
    gemm_w = numpy_helper.from_array(np.zeros((8, 5), np.float32), "gw")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "gw"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], [weight, gemm_w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return ModelSpec(name="t", inputs=(TensorSpec("x", 3),),
                     outputs=(TensorSpec("y", 5, "vector"),))


def test_conv_and_gemm_flops_by_hand(tmp_path):
    spec = _conv_gemm_model(tmp_path / "m.onnx")
    flops = onnx_flops(tmp_path / "m.onnx", spec, 2, 16, 24)
    conv = 2 * (2 * 8 * 16 * 24) * (3 * 3 * 3)  # 2 x outputs x MACs per output
    gemm = 2 * (2 * 5) * 8
    assert flops == conv + gemm == 331_936


def test_tiny_unet_flops_match_pytorchs_counter(tiny_bundle):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from fuse_trt.engine.unet import TINY_UNET_CONFIG, FusionUNet

    model = FusionUNet(TINY_UNET_CONFIG).eval()
    feed = tiny_bundle.spec.example_feed(1, 32, 48)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(*(torch.from_numpy(feed[name]) for name in tiny_bundle.spec.input_names))
    counts = {str(op).split(".")[-1]: value
              for op, value in counter.get_flop_counts()["Global"].items()}
    ours = onnx_flops_by_op(tiny_bundle.artifact_path("onnx", "fp32"), tiny_bundle.spec,
                            1, 32, 48)
    assert ours["Conv"] == counts["convolution"] > 0  # BatchNorm folding keeps conv shapes
    assert ours["Gemm"] == counts["addmm"] > 0  # the colour head's Linear layers


def test_gemm_peak_reports_a_positive_rate():
    peak = gemm_peak(size=128, repeats=3, warmup=1)
    assert peak.gflops > 0.1 and peak.size == 128 and peak.library.startswith("torch.matmul")
