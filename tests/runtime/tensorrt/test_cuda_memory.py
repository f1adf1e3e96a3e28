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


def test_release_from_another_thread_gives_the_retain_back_and_leaves_no_stack_entry(cuda):
    """pycuda's detach does nothing off the creating thread when the context is not current."""
    context = PrimaryContext(cuda)
    stacks = []

    def closer():
        with context.pushed():
            cuda.mem_alloc(16).free()
        context.release()
        stacks.append((list(cuda.gpu.stack()), list(cuda.gpu.pycuda_stack())))

    thread = threading.Thread(target=closer)
    thread.start()
    thread.join()
    assert cuda.gpu.retained == 0
    assert stacks == [([], [])] and cuda.gpu.stack() == []


def test_repeated_retain_and_release_leave_no_context_stack_entries(cuda):
    """On the creating thread pycuda's detach pushes and releases without popping."""
    for _ in range(3):
        context = PrimaryContext(cuda)
        with context.pushed():
            cuda.mem_alloc(16).free()
        context.release()
    assert cuda.gpu.retained == 0
    assert cuda.gpu.stack() == [] and cuda.gpu.pycuda_stack() == []


def test_memory_freed_from_another_thread_without_its_context_is_refused(cuda):
    """pycuda activates an allocation's context to free it, only on the creating thread."""
    context = PrimaryContext(cuda)
    with context.pushed():
        allocation = cuda.mem_alloc(16)
    errors = []
    thread = threading.Thread(target=lambda: errors.append(_try(allocation.free)))
    thread.start()
    thread.join()
    assert "out-of-thread context" in str(errors[0])
    with context.pushed():
        allocation.free()
    context.release()


def _try(action):
    try:
        action()
    except FakeCudaError as error:
        return error
    return None
