"""Where the benchmark ran: CPU/GPU model, threads, memory, load, and library versions."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform

from fuse_trt import __version__

VERSIONED_PACKAGES = ("numpy", "onnx", "onnxruntime", "torch", "opencv-python-headless",
                      "tensorrt", "pycuda")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def physical_cores() -> int | None:
    try:
        import psutil

        return psutil.cpu_count(logical=False)
    except ImportError:
        return None


def load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def total_memory_mib() -> float | None:
    try:
        import psutil

        return psutil.virtual_memory().total / (1024 * 1024)
    except ImportError:
        return None


def gpu_name() -> str | None:
    """CUDA device 0's name when torch (CUDA build) or pycuda can see one; never raises."""
    try:
        if importlib.util.find_spec("torch") is not None:
            import torch

            if torch.cuda.is_available():
                return torch.cuda.get_device_name(0)
        if importlib.util.find_spec("pycuda") is not None:
            import pycuda.driver as cuda

            cuda.init()
            return cuda.Device(0).name()
    except Exception as error:  # a broken driver must not stop a CPU benchmark
        return f"unavailable ({type(error).__name__}: {error})"
    return None


def thread_settings() -> dict:
    settings = {"logical_cpus": os.cpu_count(), "physical_cores": physical_cores()}
    if importlib.util.find_spec("torch") is not None:
        import torch

        settings["torch_threads"] = torch.get_num_threads()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MALLOC_ARENA_MAX",
                 "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"):
        if name in os.environ:
            settings[name] = os.environ[name]
    return settings


def machine_info() -> dict:
    return {"cpu": cpu_model(), "gpu": gpu_name(), "platform": platform.platform(),
            "memory_mib": total_memory_mib(), "threads": thread_settings(),
            "load_average_start": load_average()}


def versions() -> dict:
    found = {"fuse_trt": __version__, "python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found
