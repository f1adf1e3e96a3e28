import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from fuse_trt.build_engine.export import ExportConfig, export_onnx, symbolic_dims
from fuse_trt.build_engine.validate import validate_onnx
from fuse_trt.engine.unet import TINY_IDENTITY_UNET_CONFIG, TINY_UNET_CONFIG, FusionUNet
from fuse_trt.engine.errors import ExportValidationError
from tests.conftest import perturbed_unet, tiny_tiers


def test_untrained_unet_is_the_identity_on_its_composite():
    model = FusionUNet(TINY_UNET_CONFIG).eval()
    composite = torch.rand(2, 3, 32, 48) * 0.9 + 0.05
    with torch.inference_mode():
        fused = model(composite, torch.rand(2, 1, 32, 48), torch.rand(2, 3, 32, 48))
    assert torch.allclose(fused, composite, atol=1e-6)


@pytest.mark.parametrize("config", [TINY_UNET_CONFIG, TINY_IDENTITY_UNET_CONFIG])
def test_export_keeps_dims_symbolic_after_simplification(tmp_path, config):
    spec = config.spec()
    path = export_onnx(perturbed_unet(config), spec, tmp_path / "m.onnx", ExportConfig(simplify=True))
    dims = symbolic_dims(path)
    for tensor in (*spec.inputs, *spec.outputs):
        for axis in tensor.dynamic_axes():
            assert isinstance(dims[tensor.name][axis], str), (tensor.name, axis, dims[tensor.name])
    assert onnx.load(str(path)).opset_import[0].version == 17


@pytest.mark.parametrize("config", [TINY_UNET_CONFIG, TINY_IDENTITY_UNET_CONFIG])
def test_validation_compares_every_tier(tmp_path, config):
    model, spec, tiers = perturbed_unet(config), config.spec(), tiny_tiers()
    path = export_onnx(model, spec, tmp_path / "m.onnx")
    differences = validate_onnx(model, path, spec, tiers)
    assert [d.tier for d in differences] == tiers.names()
    assert all(d.passed and d.max_abs_diff < 1e-4 for d in differences)
    # The exported graph really is dynamic: it runs at every tier's shape.
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for tier in tiers:
        (fused,) = session.run(None, spec.tier_example_feed(tier))
        assert fused.shape[2:] == tier.opt_shape


def test_validation_lists_every_failing_output_before_raising(tmp_path):
    spec, tiers = TINY_UNET_CONFIG.spec(), tiny_tiers()
    exported = perturbed_unet(TINY_UNET_CONFIG, seed=1)
    path = export_onnx(exported, spec, tmp_path / "m.onnx")
    other = perturbed_unet(TINY_UNET_CONFIG, seed=2)
    with pytest.raises(ExportValidationError) as raised:
        validate_onnx(other, path, spec, tiers)
    assert len(raised.value.failures) == len(tiers)
    assert all("max abs diff" in failure for failure in raised.value.failures)


def test_external_data_is_written_beside_the_model_and_loads(tmp_path):
    spec = TINY_UNET_CONFIG.spec()
    model = perturbed_unet(TINY_UNET_CONFIG)
    path = export_onnx(model, spec, tmp_path / "m.onnx", ExportConfig(external_data=True))
    assert (tmp_path / "m.onnx.data").stat().st_size > 0
    initializers = onnx.load(str(path), load_external_data=False).graph.initializer
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in initializers)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = spec.tier_example_feed(tiny_tiers().tiers[0])
    with torch.inference_mode():
        expected = model(*(torch.from_numpy(feed[n]) for n in spec.input_names)).numpy()
    np.testing.assert_allclose(session.run(None, feed)[0], expected, atol=1e-4)
