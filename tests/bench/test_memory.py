"""Memory figures: the in-process measurement, with the GPU path driven by a fake device."""
from fuse_trt.bench import memory
from fuse_trt.bench.memory import MIB, MemoryJob, measure_memory, peak_rss_bytes, reset_peak_rss
from fuse_trt.bench.plan import Combination
from fuse_trt.bench.results import _peak_mem


def test_peak_reset_follows_the_current_rss():
    block = bytearray(64 * MIB)  # touched: raises the high-water mark
    del block
    assert reset_peak_rss() is True
    assert peak_rss_bytes() < memory.rss_bytes() + 8 * MIB


def test_gpu_deltas_come_from_mem_get_info(tiny_bundle, monkeypatch):
    free = iter([1000 * MIB, 900 * MIB, 850 * MIB])  # start, after activate, after 1st infer
    monkeypatch.setattr(memory, "backend_uses_gpu", lambda backend, precision: True)
    monkeypatch.setattr(memory, "gpu_mem_info", lambda: (next(free), 2000 * MIB))
    job = MemoryJob(str(tiny_bundle.directory), "onnxruntime", "fp32", "32", 1, 1)
    result = measure_memory(job)
    assert result["gpu_load_mib"] == 100.0
    assert result["gpu_first_infer_mib"] == 50.0
    assert result["gpu_peak_growth_mib"] == 150.0
    assert result["peak_rss_growth_mib"] >= result["steady_rss_growth_mib"] - 1.0
    assert result["backend_held_mib"] > 0 and result["backend_memory"]["io_buffer_bytes"] > 0
    monkeypatch.setattr("fuse_trt.bench.results.backend_uses_gpu", lambda b, p: True)
    peak, source = _peak_mem(result, Combination("tensorrt", "fp16"))
    assert peak == 150.0 and source.startswith("gpu")


def test_gpu_mem_info_gives_its_context_retain_back_every_call(monkeypatch):
    """Through pycuda (no CUDA torch): each call retains the primary context and releases it."""
    import importlib.util
    import sys

    from tests.support.tensorrt.fake_cuda import FakeGpu, make_pycuda

    gpu = FakeGpu()
    package, driver = make_pycuda(gpu)
    monkeypatch.setitem(sys.modules, "pycuda", package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "torch" else real_find_spec(name, *args))
    gpu.free_memory = 3 << 30
    assert [memory.gpu_mem_info() for _ in range(3)] == [(3 << 30, 16 << 30)] * 3
    assert gpu.retained == 0 and gpu.stack() == []
