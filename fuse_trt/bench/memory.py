"""Memory per backend, measured in a fresh process per (backend, precision, tier).

A fresh process means one backend's allocator caches and library state cannot pollute
another's figures. In the child: import the backend's library and build the feed, take the
baseline RSS and reset the kernel's high-water mark (``/proc/self/clear_refs``), then load,
activate and run the tier. Peak RSS growth is the high-water mark minus the baseline, so it
covers the weights, the session and the largest moment of the run. On a GPU the child also
records ``mem_get_info`` deltas around load/activation and the first inference, and the
PyTorch path's ``max_memory_allocated``/``reserved``.
"""
from __future__ import annotations

import gc
import importlib.util
import resource
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

from fuse_trt.bench.openvino_peer import PEERS
from fuse_trt.engine.choices import BackendName, Precision

MIB = 1024 * 1024


# -- host memory -------------------------------------------------------------------------
def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int:
    """Resident set size of this process now."""
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib * 1024
    import psutil

    return psutil.Process().memory_info().rss


def peak_rss_bytes() -> int:
    """High-water mark of the RSS since start or since the last :func:`reset_peak_rss`."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def reset_peak_rss() -> bool:
    """Reset the high-water mark to the current RSS (Linux >= 4.0); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    peak = _status_kib("VmHWM")
    return peak is not None and peak * 1024 <= rss_bytes() + 4 * MIB


# -- device memory (lazy; only where a GPU backend runs) ---------------------------------
def gpu_mem_info() -> tuple[int, int] | None:
    """(free, total) bytes of CUDA device 0, through torch.cuda or pycuda; None without."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return tuple(int(v) for v in torch.cuda.mem_get_info())
    if importlib.util.find_spec("pycuda") is not None:
        from fuse_trt.runtime.cuda_memory import PrimaryContext, load_pycuda

        cuda = load_pycuda()
        context = PrimaryContext(cuda)
        try:
            with context.pushed():
                return tuple(int(v) for v in cuda.mem_get_info())
        finally:
            context.release()  # one retain per call, given back every call
    return None


def backend_uses_gpu(backend: str, precision: str) -> bool:
    if backend == BackendName.TENSORRT or (backend == BackendName.TORCH
                                           and precision == Precision.FP16):
        return True
    if backend == BackendName.ONNXRUNTIME:
        import onnxruntime

        return any(p in onnxruntime.get_available_providers()
                   for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider"))
    return False


def _used_mib(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None:
        return None
    return (before[0] - after[0]) / MIB


def _torch_cuda_peaks() -> dict:
    if importlib.util.find_spec("torch") is None:
        return {}
    import torch

    if not torch.cuda.is_available():
        return {}
    return {"torch_max_allocated_mib": torch.cuda.max_memory_allocated() / MIB,
            "torch_max_reserved_mib": torch.cuda.max_memory_reserved() / MIB}


# -- one measurement, run in a child process ---------------------------------------------
@dataclass(frozen=True)
class MemoryJob:
    bundle_dir: str
    backend: str
    precision: str
    tier: str
    batch: int = 1
    iterations: int = 3
    openvino_original_onnx: str | None = None  # the openvino-original row's graph


def predicted_bytes(bundle, backend: str, precision: str, tier_name: str, batch: int) -> int:
    """What the memory plan says this run holds: TensorRT holds the whole plan (weights,
    shared scratch, shared I/O); ONNX Runtime and PyTorch hold weights, the shared I/O and
    the activations of the shape they run."""
    from fuse_trt.engine.activations import ActivationEstimator
    from fuse_trt.engine.choices import ArtifactKind, Precision
    from fuse_trt.engine.memory_plan import ACTIVATION_BYTES, memory_plan

    estimator = ActivationEstimator.from_path(bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32), bundle.spec)
    plan_precision = precision if backend == "tensorrt" else "fp32"  # ORT CPU runs FP32
    plan = memory_plan(estimator, bundle.tiers, plan_precision)
    if backend == "tensorrt":
        return plan.device_total_bytes
    tier = bundle.tiers.by_name(tier_name)
    run = estimator.peak(batch, *tier.opt_shape, ACTIVATION_BYTES[plan_precision]).bytes
    return plan.weights_bytes + plan.shared_io_bytes + run


def _preload(backend: str) -> None:
    """Import the backend's library before the baseline so its code pages are not counted."""
    if backend == BackendName.TORCH:
        import torch  # noqa: F401
    elif backend == BackendName.ONNXRUNTIME:
        import onnxruntime  # noqa: F401
    elif backend == BackendName.TENSORRT:
        from fuse_trt.runtime import tensorrt_backend  # noqa: F401
    elif backend in PEERS:
        import openvino  # noqa: F401


def measure_memory(job: MemoryJob) -> dict:
    """Load, activate and run one tier; memory figures in MiB (run in a fresh process)."""
    from fuse_trt.bench.plan import open_bench_backend
    from fuse_trt.engine.bundle import Bundle

    _preload(job.backend)
    bundle = Bundle.load(Path(job.bundle_dir))
    tier = bundle.tiers.by_name(job.tier)
    feed = bundle.spec.example_feed(job.batch, *tier.opt_shape)
    on_gpu = backend_uses_gpu(job.backend, job.precision)
    gc.collect()
    gpu_start = gpu_mem_info() if on_gpu else None
    reset_ok = reset_peak_rss()
    baseline = rss_bytes()
    backend = open_bench_backend(bundle, job.backend, job.precision,
                                 job.openvino_original_onnx).activate()
    after_activate = rss_bytes()
    feed = {name: array.astype(backend.spec.tensor(name).dtype, copy=False)
            for name, array in feed.items()}  # FP16 plans take FP16
    gpu_activated = gpu_mem_info() if on_gpu else None
    backend.infer(tier, feed)
    gpu_first = gpu_mem_info() if on_gpu else None
    for _ in range(job.iterations):
        backend.infer(tier, feed)
    peak = peak_rss_bytes()
    held = backend.memory()
    result = {
        **asdict(job), "peak_reset": reset_ok, "baseline_rss_mib": baseline / MIB,
        "load_rss_mib": (after_activate - baseline) / MIB,
        "peak_rss_growth_mib": (peak - baseline) / MIB,
        "steady_rss_growth_mib": (rss_bytes() - baseline) / MIB,
        "backend_held_mib": held.total_bytes / MIB,
        "predicted_mib": predicted_bytes(bundle, job.backend, job.precision, job.tier,
                                         job.batch) / MIB,
        "backend_memory": {"weights_bytes": held.weights_bytes,
                           "io_buffer_bytes": held.io_buffer_bytes,
                           "scratch_bytes_per_tier": dict(held.scratch_bytes_per_tier),
                           "shared_scratch_bytes": held.shared_scratch_bytes},
        "gpu_load_mib": _used_mib(gpu_start, gpu_activated),
        "gpu_first_infer_mib": _used_mib(gpu_activated, gpu_first),
        "gpu_peak_growth_mib": _used_mib(gpu_start, gpu_first),
        **_torch_cuda_peaks()}
    backend.close()
    return result


def measure_in_fresh_processes(jobs: list[MemoryJob], progress=None) -> list[dict]:
    """Run each job in its own spawned process, one after another (never two at once)."""
    results = []
    context = get_context("spawn")
    for job in jobs:
        with ProcessPoolExecutor(max_workers=1, mp_context=context,
                                 max_tasks_per_child=1) as pool:
            results.append(pool.submit(measure_memory, job).result())
        if progress is not None:
            progress(job)
    return results
