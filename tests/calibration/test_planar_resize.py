"""The CPU INT8 model's uint8 upsamplings on planes: the same values, and ONNX Runtime keeps
them in NCHW instead of moving them next to its NHWC QLinearConvs."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from fuse_trt.calibration.planar_resize import resize_on_planes, rewrite_file
from tests.support.ort_graph import op_counts, optimized_graph, resize_scales

CHANNELS = 8


def _float_model() -> onnx.ModelProto:
    """conv -> relu -> nearest x2 resize -> conv, dynamic N, H, W (the decoder's pattern)."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(0, 0.3, (CHANNELS, CHANNELS, 3, 3))
                                       .astype(np.float32), f"w{i}") for i in range(2)]
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c0"], pads=[1, 1, 1, 1], name="conv0"),
             helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
             helper.make_node("Resize", ["r0", "", "scales"], ["up"], name="upsample",
                              mode="nearest", coordinate_transformation_mode="asymmetric",
                              nearest_mode="floor"),
             helper.make_node("Conv", ["up", "w1"], ["y"], pads=[1, 1, 1, 1], name="conv1")]
    graph = helper.make_graph(
        nodes, "decoder", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                         ["n", CHANNELS, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", CHANNELS, None, None])],
        [*weights, scales])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


class _Reader(CalibrationDataReader):
    def __init__(self):
        rng = np.random.default_rng(1)
        self._feeds = iter([{"x": rng.random((1, CHANNELS, 16, 16), dtype=np.float32)}
                            for _ in range(4)])

    def get_next(self):
        return next(self._feeds, None)


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    directory = tmp_path_factory.mktemp("planar")
    onnx.save(_float_model(), str(directory / "float.onnx"))
    quantize_static(str(directory / "float.onnx"), str(directory / "int8.onnx"), _Reader(),
                    quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv", "Relu", "Resize"],
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return directory / "int8.onnx"


def _run(path, feed) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feed)[0]


def test_onnx_runtime_runs_the_quantized_upsampling_in_nhwc_without_the_rewrite(quantized,
                                                                               tmp_path):
    # why the rewrite exists: the layout transformer puts the Resize on NHWC (scales 1,2,2,1)
    assert resize_scales(optimized_graph(quantized, tmp_path)) == [[1.0, 2.0, 2.0, 1.0]]


def test_on_planes_the_upsampling_stays_nchw_and_gives_the_same_bits(quantized, tmp_path):
    rewritten = tmp_path / "planar.onnx"
    rewritten.write_bytes(quantized.read_bytes())
    assert rewrite_file(rewritten) == 1
    before, after = optimized_graph(quantized, tmp_path), optimized_graph(rewritten, tmp_path)
    assert resize_scales(after) == [[1.0, 1.0, 2.0, 2.0]]
    # in uint8 end to end: no float island (its own DequantizeLinear / QuantizeLinear) added
    for op in ("DequantizeLinear", "QuantizeLinear"):
        assert op_counts(after)[op] == op_counts(before)[op]
    rng = np.random.default_rng(2)
    for shape in ((1, CHANNELS, 16, 16), (3, CHANNELS, 10, 22)):
        feed = {"x": rng.random(shape, dtype=np.float32)}
        np.testing.assert_array_equal(_run(rewritten, feed), _run(quantized, feed))


def test_the_rewrite_is_idempotent_and_leaves_float_resizes_alone(quantized):
    model = onnx.load(str(quantized))
    assert resize_on_planes(model) == 1
    assert resize_on_planes(model) == 0
    assert resize_on_planes(_float_model()) == 0  # no Q/DQ around it: not an 8-bit Resize
