"""The Q/DQ ONNX that calibration writes for TensorRT 11.x, fed to the stand-in parser, which
applies TensorRT's explicit-quantization rules (tests/support/tensorrt/qdq_rules.py)."""
import onnx
import pytest
from onnx import numpy_helper

from fuse_trt.calibration.options import Int8Options
from fuse_trt.calibration.qdq import QDQ_KIND, build_tensorrt_qdq
from fuse_trt.engine.errors import EngineBuildError
from tests.support.tensorrt import emulate, plan_header
from tests.support.tensorrt.building import build_plan
from tests.support.tensorrt.qdq_rules import qdq_problems


@pytest.fixture
def qdq_bundle(fresh_bundle, int8_extra):
    return build_tensorrt_qdq(fresh_bundle, Int8Options.from_cli(**int8_extra()))


def test_the_calibrated_qdq_onnx_follows_tensorrt_rules_and_builds_on_11(qdq_bundle, tmp_path,
                                                                          monkeypatch):
    path = qdq_bundle.artifact_path(QDQ_KIND, "int8", "tensorrt")
    assert qdq_problems(onnx.load(str(path))) == []
    emulate("11.4.0.106").install(monkeypatch)
    plan = build_plan(tmp_path / "plan", qdq_bundle.spec, qdq_bundle.tiers, "int8",
                      onnx_path=qdq_bundle.artifact_path("onnx", "fp32"), int8_qdq_onnx=path)
    assert plan_header(plan)["precision"] == "int8"


def test_an_asymmetric_zero_point_is_refused_by_the_parser(qdq_bundle, tmp_path, monkeypatch):
    model = onnx.load(str(qdq_bundle.artifact_path(QDQ_KIND, "int8", "tensorrt")))
    node = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    zero = next(init for init in model.graph.initializer if init.name == node.input[2])
    zero.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(zero).astype("uint8") + 128,
                                          zero.name))
    asymmetric = tmp_path / "asymmetric.onnx"
    onnx.save(model, str(asymmetric))
    emulate("11.4.0.106").install(monkeypatch)
    with pytest.raises(EngineBuildError, match="Q/DQ: zero point uint8 .*only symmetric INT8"):
        build_plan(tmp_path / "plan", qdq_bundle.spec, qdq_bundle.tiers, "int8",
                   onnx_path=qdq_bundle.artifact_path("onnx", "fp32"), int8_qdq_onnx=asymmetric)
