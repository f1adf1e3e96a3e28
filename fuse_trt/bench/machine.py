"""Where the benchmark ran: CPU/GPU model, threads, memory, load, and library versions."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform

from fuse_trt import __version__

VERSIONED_PACKAGES = ("numpy", "onnx", "onnxruntime", "torch", "opencv-python-headless",
                      "tensorrt", "pycuda")


# The vector instructions ONNX Runtime's and PyTorch's CPU kernels dispatch on: which of them
# a CPU has moves FP32 and INT8 speed, and the ratios between runtimes, more than its model
# name says (x86 /proc/cpuinfo "flags", aarch64 "Features").
VECTOR_EXTENSIONS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                     "amx_int8", "asimd", "asimddp", "i8mm", "sve")


def cpuinfo_text() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return handle.read()
    except OSError:
        return ""


def cpu_model(cpuinfo: str) -> str:
    """The model name of the first CPU of ``cpuinfo`` (/proc/cpuinfo's text)."""
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def vector_extensions(cpuinfo: str) -> list[str]:
    """The VECTOR_EXTENSIONS the first CPU of ``cpuinfo`` (/proc/cpuinfo's text) lists."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            present = set(value.split())
            return [name for name in VECTOR_EXTENSIONS if name in present]
    return []


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
    cpuinfo = cpuinfo_text()
    return {"cpu": cpu_model(cpuinfo), "cpu_extensions": vector_extensions(cpuinfo),
            "gpu": gpu_name(), "platform": platform.platform(),
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
