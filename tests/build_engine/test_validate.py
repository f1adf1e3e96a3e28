"""Export validation: an export only slightly off is rejected, one within tolerance passes."""
import pytest
import torch

from fuse_trt.build_engine.export import export_onnx
from fuse_trt.build_engine.validate import validate_onnx
from fuse_trt.engine.errors import ExportValidationError
from fuse_trt.engine.unet import TINY_UNET_CONFIG
from tests.conftest import perturbed_unet, tiny_tiers


class Offset(torch.nn.Module):
    """The exported model plus a constant: the export then differs from it by ``offset``."""

    def __init__(self, model, offset: float):
        super().__init__()
        self.model, self.offset = model, offset

    def forward(self, *inputs):
        return self.model(*inputs) + self.offset


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model, spec = perturbed_unet(TINY_UNET_CONFIG), TINY_UNET_CONFIG.spec()
    return model, spec, export_onnx(model, spec, tmp_path_factory.mktemp("v") / "m.onnx")


def test_an_export_off_by_2e_3_is_rejected_on_every_tier(exported):
    # spec tolerance: atol 1e-4 + rtol 1e-3 x |value| <= 1.1e-3 for values in 0..1
    model, spec, path = exported
    with pytest.raises(ExportValidationError) as raised:
        validate_onnx(Offset(model, 2e-3), path, spec, tiny_tiers())
    assert len(raised.value.failures) == len(tiny_tiers())
    assert all("max abs diff 0.002" in failure for failure in raised.value.failures)


def test_an_export_off_by_less_than_atol_passes_and_reports_the_difference(exported):
    model, spec, path = exported
    results = validate_onnx(Offset(model, 5e-5), path, spec, tiny_tiers())
    assert [r.tier for r in results] == tiny_tiers().names()
    assert all(r.passed and 4e-5 < r.max_abs_diff < 7e-5 for r in results)


def test_differences_are_frozen(exported):
    import dataclasses

    model, spec, path = exported
    [first, *_] = validate_onnx(model, path, spec, tiny_tiers())
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.passed = False
