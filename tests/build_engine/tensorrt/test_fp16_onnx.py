"""FP16 ONNX: float16 weights, float32 inputs and outputs, close to the FP32 model."""
import numpy as np
import onnx
import onnxruntime

from fuse_trt.build_engine.fp16_onnx import fp16_onnx
from fuse_trt.engine.spec import IDENTITY_FUSION_SPEC
from tests.support.tensorrt.models import feed_for, tiny_onnx


def test_fp16_onnx_keeps_io_float32_and_stays_close(tmp_path):
    source = tiny_onnx(IDENTITY_FUSION_SPEC, tmp_path / "model.onnx")
    converted = fp16_onnx(source, tmp_path / "model.fp16.onnx")
    model = onnx.load(str(converted))
    assert {t.data_type for t in model.graph.initializer if t.name.endswith("_w")} == \
        {onnx.TensorProto.FLOAT16}
    io = [*model.graph.input, *model.graph.output]
    assert {v.type.tensor_type.elem_type for v in io} == {onnx.TensorProto.FLOAT}
    feed = feed_for(IDENTITY_FUSION_SPEC, 2, 32, 48)
    outputs = [onnxruntime.InferenceSession(str(path)).run(None, feed)[0]
               for path in (source, converted)]
    assert 0 < np.abs(outputs[0] - outputs[1]).max() < 2e-3
