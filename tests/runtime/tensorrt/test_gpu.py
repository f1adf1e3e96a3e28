"""With an NVIDIA GPU, TensorRT and pycuda: real builds and runs (skipped cleanly elsewhere)."""
import importlib.util
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fuse_trt.build_engine.tensorrt_builder import build_tensorrt_plans
from fuse_trt.build_engine.tensorrt_config import TensorRTBuildConfig
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend
from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path
from fuse_trt.runtime.tensorrt_backend import TensorRTBackend
from tests.support.tensorrt.models import feed_for


def gpu_with_tensorrt() -> bool:
    if any(importlib.util.find_spec(name) is None for name in ("tensorrt", "pycuda")):
        return False
    import pycuda.driver as cuda

    try:
        cuda.init()
        return cuda.Device.count() > 0
    except cuda.Error:
        return False


pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not gpu_with_tensorrt(),
                                 reason="needs an NVIDIA GPU with TensorRT and pycuda")]

TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2}


@pytest.mark.parametrize("bundle_name", ["tiny_bundle", "tiny_identity_bundle"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_real_plans_match_onnxruntime_and_report_memory(request, tmp_path, bundle_name, precision):
    bundle = request.getfixturevalue(bundle_name)
    onnx_path = bundle.artifact_path("onnx", "fp32")
    [plan] = build_tensorrt_plans(tmp_path, onnx_path, bundle.spec, bundle.tiers,
                                  TensorRTBuildConfig(precision=precision, workspace_bytes=1 << 28))
    assert PlanSidecar.read(sidecar_path(plan)).precision == precision
    with OnnxRuntimeBackend(onnx_path, bundle.spec, bundle.tiers) as reference, \
            TensorRTBackend(plan, bundle.spec, bundle.tiers, precision) as backend:
        for tier in bundle.tiers:
            feed = feed_for(bundle.spec, tier.max_batch, *tier.max_shape)
            expected, actual = reference.infer(tier, feed), backend.infer(tier, feed)
            np.testing.assert_allclose(actual["fused"], expected["fused"],
                                       atol=TOLERANCE[precision])
        memory = backend.memory()
    assert memory.weights_bytes > 0 and memory.io_buffer_bytes > 0
    assert memory.shared_scratch_bytes == max(memory.scratch_bytes_per_tier.values())


def test_real_inference_from_a_worker_thread(tiny_bundle, tmp_path):
    onnx_path = tiny_bundle.artifact_path("onnx", "fp32")
    [plan] = build_tensorrt_plans(tmp_path, onnx_path, tiny_bundle.spec, tiny_bundle.tiers,
                                  TensorRTBuildConfig(precision="fp32"))
    tier = tiny_bundle.tiers.tiers[0]
    feed = feed_for(tiny_bundle.spec, 1, *tier.opt_shape)
    backend = TensorRTBackend(plan, tiny_bundle.spec, tiny_bundle.tiers, "fp32")
    with ThreadPoolExecutor(1) as worker:
        worker.submit(backend.activate).result()
        on_worker = worker.submit(backend.infer, tier, feed).result()["fused"]
    on_main = backend.infer(tier, feed)["fused"]
    backend.close()
    np.testing.assert_array_equal(on_worker, on_main)
