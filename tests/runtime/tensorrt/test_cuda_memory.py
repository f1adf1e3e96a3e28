"""Buffers and the primary context, on the fake pycuda (pinned checks, per-thread stacks)."""
import sys
import threading

import numpy as np
import pytest

from fuse_trt.runtime.cuda_memory import (PrimaryContext, TensorBuffers, load_pycuda,
                                          query_gpu)
from tests.support.tensorrt.fake_cuda import FakeCudaError, FakeGpu, make_pycuda


@pytest.fixture
def cuda(monkeypatch):
    gpu = FakeGpu("NVIDIA GeForce RTX 4090", (8, 9))
    package, driver = make_pycuda(gpu)
    monkeypatch.setitem(sys.modules, "pycuda", package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)
    driver.gpu = gpu
    return load_pycuda()


def test_gpu_info_names_the_device_and_versions(cuda):
    info = query_gpu(cuda, 0)
    assert (info.name, info.compute_capability, info.sm) == ("NVIDIA GeForce RTX 4090", (8, 9), "sm89")
    assert (info.cuda_version, info.driver_version) == ("12.4.0", "12.4")
    assert info.slug == "nvidia-geforce-rtx-4090-sm89"


def test_buffers_round_trip_through_the_device_in_pinned_views(cuda):
    context = PrimaryContext(cuda)
    with context.pushed():
        stream = cuda.Stream()
        buffers = TensorBuffers(cuda, (2, 3, 8, 8), np.float32)
        data = np.random.default_rng(0).random((1, 3, 4, 8), dtype=np.float32)
        buffers.upload(data, stream)
        back = buffers.download(data.shape, stream)
        stream.synchronize()
        np.testing.assert_array_equal(back, data)
        with pytest.raises(ValueError, match="buffer holds 384"):
            buffers.host.view((4, 3, 8, 8))
        assert buffers.nbytes == 2 * 384 * 4
        buffers.free()
    context.release()
    assert cuda.gpu.allocations == {} and cuda.gpu.retained == 0


def test_the_context_is_pushed_only_while_in_use_on_any_thread(cuda):
    context = PrimaryContext(cuda)
    with pytest.raises(FakeCudaError, match="no CUDA context"):
        cuda.mem_alloc(16)
    seen = []

    def worker():
        with context.pushed():
            seen.append(len(cuda.gpu.stack()))
        seen.append(len(cuda.gpu.stack()))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [1, 0] and cuda.gpu.stack() == []
    context.release()
    context.release()  # idempotent
    assert cuda.gpu.events.count("detach") == 1
