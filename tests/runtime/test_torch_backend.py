"""The PyTorch backend: FP16 needs a CUDA device; memory counts the weights it holds."""
import pytest

from fuse_trt.engine.errors import BackendUnavailableError
from fuse_trt.engine.unet import TINY_UNET_CONFIG
from fuse_trt.runtime.torch_backend import TorchBackend
from tests.conftest import perturbed_unet, tiny_tiers


def test_fp16_on_the_cpu_is_refused_and_fp32_runs():
    model = perturbed_unet(TINY_UNET_CONFIG)
    spec = TINY_UNET_CONFIG.spec()
    with pytest.raises(BackendUnavailableError, match="fp16 only on a CUDA device"):
        TorchBackend(lambda: model, spec, tiny_tiers(), "fp16").activate()
    with TorchBackend(lambda: model, spec, tiny_tiers(), "fp32") as backend:
        weights = backend.memory().weights_bytes
    # a second count: every parameter as a NumPy array, 4 bytes a float32 value
    assert weights == sum(p.detach().numpy().nbytes for p in model.parameters())
    assert weights == 4 * sum(p.numel() for p in model.parameters()) > 1000
