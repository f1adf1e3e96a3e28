"""An entropy calibrator driven by the real builder on the emulation, as TensorRT drives it:
the trampoline swallows get_batch exceptions (read as "end of data") and a valid cache
returned by read_calibration_cache skips the batches."""
import numpy as np
import pytest

from fuse_trt.calibration.tensorrt_calibrator import make_entropy_calibrator
from fuse_trt.engine.errors import EngineBuildError
from fuse_trt.engine.spec import FUSION_SPEC
from tests.support.tensorrt.building import build_plan
from tests.support.tensorrt.fixtures import tiers, trt10  # noqa: F401
from tests.support.tensorrt.models import feed_for


class HostInput:
    """Device memory through the fake pycuda; ``fail_at`` upload raises a pycuda error."""

    uploads = 0

    def __init__(self, shape, dtype, fail_at=None):
        import pycuda.driver as cuda

        self._cuda, self._fail_at = cuda, fail_at
        self._allocation = cuda.mem_alloc(int(np.prod(shape)) * np.dtype(dtype).itemsize)
        self.address = int(self._allocation)

    def upload(self, array):
        HostInput.uploads += 1
        if HostInput.uploads == self._fail_at:
            raise self._cuda.LogicError("cuMemcpyHtoD failed: an illegal memory access")

    def free(self):
        self._allocation.free()


def factory(tiers, cache_path, fail_at=None):
    tier = tiers.tiers[0]
    batches = [feed_for(FUSION_SPEC, 1, *tier.opt_shape, seed=seed) for seed in range(3)]
    HostInput.uploads = 0
    return lambda trt: make_entropy_calibrator(
        trt, batches, cache_path, lambda shape, dtype: HostInput(shape, dtype, fail_at))


def test_a_failing_batch_fails_the_build_and_writes_no_cache(trt10, tiers, tmp_path):
    cache = tmp_path / "calibration.cache"
    inputs = len(FUSION_SPEC.inputs)
    with pytest.raises(EngineBuildError, match="INT8 calibration failed: cuMemcpyHtoD failed"):
        build_plan(tmp_path, FUSION_SPEC, tiers, "int8",
                   int8_calibrator_factory=factory(tiers, cache, fail_at=inputs + 1))
    assert not cache.exists()
    assert not list(tmp_path.glob("*.plan"))


def test_a_valid_cache_is_used_instead_of_batches(trt10, tiers, tmp_path):
    cache = tmp_path / "calibration.cache"
    build_plan(tmp_path / "first", FUSION_SPEC, tiers, "int8",
               int8_calibrator_factory=factory(tiers, cache))
    assert cache.read_bytes() == b"emulated-calibration-cache"
    plan = build_plan(tmp_path / "second", FUSION_SPEC, tiers, "int8",
                      int8_calibrator_factory=factory(tiers, cache, fail_at=1))
    assert plan.is_file() and HostInput.uploads == 0
