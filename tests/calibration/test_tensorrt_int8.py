"""TensorRT INT8 under the strict stand-ins of all four API dumps.

8.6.1, 10.3.0, 10.16.1: the entropy calibrator is built from the dumped class and driven as
TensorRT drives it (batches on fake device memory, the cache file). 11.4 (and strongly typed
10.x) takes the Q/DQ ONNX and never touches IInt8EntropyCalibrator2.
"""
from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest

from fuse_trt.build_engine.tensorrt_builder import onnx_for
from fuse_trt.build_engine.tensorrt_config import PlanJob, TensorRTBuildConfig
from fuse_trt.calibration.options import Int8Options
from fuse_trt.calibration.qdq import nonzero_zero_points
from fuse_trt.calibration.tensorrt_calibrator import (calibration_cache_path,
                                                      make_entropy_calibrator)
from fuse_trt.calibration.tensorrt_int8 import tensorrt_int8_inputs
from fuse_trt.runtime.trt_compat import TensorRTCompat
from tests.support.tensorrt.dump import load_dump
from tests.support.tensorrt.fake_cuda import FakeGpu, make_pycuda
from tests.support.tensorrt.strict import make_standin


class BuilderConfigImpl:
    """Just what attaching a calibrator touches."""

    int8_calibrator = property(lambda self: self.__dict__.get("_calibrator"),
                               lambda self, value: self.__dict__.__setitem__("_calibrator", value))

    def set_calibration_profile(self, profile):
        self.__dict__["_calibration_profile"] = profile
        return True


@pytest.fixture
def fake_gpu(monkeypatch):
    """A fake pycuda with the primary context pushed, as the builder does around a build."""
    gpu = FakeGpu()
    package, driver = make_pycuda(gpu)
    monkeypatch.setitem(sys.modules, "pycuda", package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)
    context = driver.Device(0).retain_primary_context()
    context.push()
    yield gpu
    context.pop()
    context.detach()


def _standin(version: str):
    trt = make_standin(version, {"IBuilderConfig": BuilderConfigImpl})
    return trt, TensorRTCompat.from_module(trt)


def _drain(calibrator, names: list[str], gpu: FakeGpu) -> list[dict]:
    """Call get_batch as TensorRT does until it returns None; read what each address holds."""
    batches = []
    while (addresses := calibrator.get_batch(names)) is not None:
        assert len(addresses) == len(names)
        batches.append({name: gpu.view(address, gpu.remaining(address)).view(np.float32).copy()
                        for name, address in zip(names, addresses)})
    return batches


@pytest.mark.parametrize("version", ["8.6.1", "10.3.0", "10.16.1.11"])
def test_entropy_calibrator_under_implicit_versions(version, fresh_bundle, int8_extra, fake_gpu):
    trt, compat = _standin(version)
    assert compat.int8_mode() == "implicit"
    _, inputs = tensorrt_int8_inputs(fresh_bundle, compat, Int8Options.from_cli(**int8_extra()))
    factory = pickle.loads(pickle.dumps(inputs["int8_calibrator_factory"]))  # subprocess builds
    calibrator = factory(trt)
    assert isinstance(calibrator, trt.IInt8EntropyCalibrator2)
    dumped = load_dump(version)["classes"]["IInt8EntropyCalibrator2"]
    overrides = {name for name in type(calibrator).__dict__ if not name.startswith("_")}
    assert overrides <= set(dumped), overrides - set(dumped)

    config = trt.IBuilderConfig()
    assert compat.attach_calibrator(config, calibrator, trt.IOptimizationProfile())
    assert config.int8_calibrator is calibrator

    assert calibrator.get_batch_size() == 1
    names = fresh_bundle.spec.input_names
    first_tier = fresh_bundle.tiers.tiers[0]
    seen = _drain(calibrator, names, fake_gpu)
    assert len(seen) == len(factory.batches) >= 1
    for batch, got in zip(factory.batches, seen):
        for name in names:
            array = batch[name]
            assert array.shape[2:] == first_tier.opt_shape and array.shape[0] == 1
            np.testing.assert_array_equal(got[name], array.ravel())
    assert fake_gpu.counts["mem_alloc"] == len(names)  # one buffer per input, reused
    assert fake_gpu.allocations == {}  # freed once the batches ran out
    assert "IInt8EntropyCalibrator2" in object.__getattribute__(trt, "_fake_log").names


def test_calibration_cache_is_keyed_by_the_onnx_and_reused(fresh_bundle, int8_extra, fake_gpu):
    trt, compat = _standin("10.3.0")
    _, inputs = tensorrt_int8_inputs(fresh_bundle, compat, Int8Options.from_cli(**int8_extra()))
    factory = inputs["int8_calibrator_factory"]
    sha = fresh_bundle.manifest.find("onnx", "fp32")[-1].sha256
    assert factory.cache_path == calibration_cache_path(fresh_bundle.directory, sha, "10.3.0")
    assert sha[:16] in factory.cache_path.name
    first = factory(trt)
    assert first.read_calibration_cache() is None
    first.write_calibration_cache(memoryview(b"TRT-1003-EntropyCalibration2\n"))
    assert factory(trt).read_calibration_cache() == b"TRT-1003-EntropyCalibration2\n"


@pytest.mark.parametrize("version, strongly_typed", [("11.4.0.106", False),
                                                     ("10.16.1.11", True)])
def test_explicit_versions_take_the_qdq_onnx(version, strongly_typed, fresh_bundle, int8_extra):
    trt, compat = _standin(version)
    assert compat.int8_mode(strongly_typed) == "explicit"
    bundle, inputs = tensorrt_int8_inputs(fresh_bundle, compat,
                                          Int8Options.from_cli(**int8_extra()), strongly_typed)
    assert set(inputs) == {"int8_qdq_onnx"} and nonzero_zero_points(inputs["int8_qdq_onnx"]) == {}
    job = PlanJob(bundle.directory, bundle.artifact_path("onnx", "fp32"), bundle.spec,
                  bundle.tiers.tiers, TensorRTBuildConfig(precision="int8",
                                                          strongly_typed=strongly_typed, **inputs))
    recipe = compat.precision_recipe("int8", strongly_typed)
    assert onnx_for(job, compat, recipe) == inputs["int8_qdq_onnx"] and not recipe.builder_flags
    accessed = object.__getattribute__(trt, "_fake_log").names
    assert not any(name.startswith("IInt8") for name in accessed)


def test_tensorrt_11_has_no_entropy_calibrator(tmp_path):
    trt, _ = _standin("11.4.0.106")
    with pytest.raises(AttributeError, match="has no attribute 'IInt8EntropyCalibrator2'"):
        make_entropy_calibrator(trt, [], tmp_path / "cache", lambda shape, dtype: None)
