"""CUDA through pycuda: the device's primary context, pinned host and device buffers.

pycuda is imported only in :func:`load_pycuda`, never ``pycuda.autoinit``: the primary context
is retained explicitly and pushed around each use, so any thread may use it (camera loops run
inference off the main thread). Each buffer class owns exactly one allocation, apart from
:class:`TensorBuffers`, the pinned + device pair of one tensor on a discrete GPU. On an
integrated GPU (Jetson: device memory is the same DRAM) :class:`MappedBuffers` holds one
page-locked allocation mapped into the device's address space, so a tensor exists once.
"""
from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from fuse_trt.engine.errors import BackendUnavailableError
from fuse_trt.runtime.trt_compat import INSTALL_HINT


def load_pycuda() -> ModuleType:
    """``pycuda.driver``, initialised; no context is created or made current."""
    try:
        import pycuda.driver as cuda
    except ImportError as error:
        raise BackendUnavailableError(f"pycuda is not importable ({error}); {INSTALL_HINT}") \
            from error
    cuda.init()
    return cuda


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    compute_capability: tuple[int, int]
    cuda_version: str  # the CUDA version pycuda was built against
    driver_version: str  # the newest CUDA version the driver supports

    @property
    def sm(self) -> str:
        major, minor = self.compute_capability
        return f"sm{major}{minor}"

    @property
    def slug(self) -> str:
        """File-name-safe GPU key, e.g. 'nvidia-geforce-rtx-4090-sm89'."""
        name = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")
        return f"{name}-{self.sm}"


def query_gpu(cuda: ModuleType, index: int = 0) -> GpuInfo:
    device = cuda.Device(index)
    driver = int(cuda.get_driver_version())
    return GpuInfo(index=index, name=str(device.name()),
                   compute_capability=tuple(int(v) for v in device.compute_capability()),
                   cuda_version=".".join(str(v) for v in cuda.get_version()),
                   driver_version=f"{driver // 1000}.{driver % 1000 // 10}")


class PrimaryContext:
    """The device's primary context, retained once and pushed only while in use.

    Releasing goes through a short-lived thread of its own: there the context is pushed and
    pycuda's ``detach`` finds it current, so ``cuDevicePrimaryCtxRelease`` runs whichever
    thread asked (detach of a non-current context does nothing off its creating thread), and
    the stack entry that release leaves behind dies with that thread instead of staying on
    the caller's context stack.
    """

    def __init__(self, cuda: ModuleType, index: int = 0):
        self._context = cuda.Device(index).retain_primary_context()

    @contextmanager
    def pushed(self) -> Iterator[None]:
        self._context.push()
        try:
            yield
        finally:
            self._context.pop()

    def release(self) -> None:
        """Give the retain back, from any thread. Call it after the last pop; idempotent."""
        context, self._context = self._context, None
        if context is None:
            return
        failures: list[BaseException] = []
        releaser = threading.Thread(target=_push_and_detach, args=(context, failures),
                                    name="fuse-trt-cuda-release")
        releaser.start()
        releaser.join()
        if failures:
            raise failures[0]


def _push_and_detach(context, failures: list[BaseException]) -> None:
    try:
        context.push()
        context.detach()
    except BaseException as error:  # re-raised on the releasing caller's thread
        failures.append(error)


def is_integrated(cuda: ModuleType, index: int = 0) -> bool:
    """True on a GPU that shares the host's memory (Jetson), from the INTEGRATED attribute."""
    return bool(cuda.Device(index).get_attribute(cuda.device_attribute.INTEGRATED))


class PinnedHostBuffer:
    """Page-locked host memory for up to ``capacity`` elements, viewed per call; ``mapped``
    also maps it into the device's address space (DEVICEMAP)."""

    def __init__(self, cuda: ModuleType, capacity: int, dtype: np.dtype, mapped: bool = False):
        flags = cuda.host_alloc_flags.DEVICEMAP if mapped else 0
        self.array = cuda.pagelocked_empty(capacity, dtype, mem_flags=flags)
        self.capacity = capacity

    @property
    def nbytes(self) -> int:
        return self.array.nbytes

    def view(self, shape: tuple[int, ...]) -> np.ndarray:
        volume = math.prod(shape)
        if volume > self.capacity:
            raise ValueError(f"shape {shape} needs {volume} elements; buffer holds {self.capacity}")
        return self.array[:volume].reshape(shape)

    def free(self) -> None:
        self.array.base.free()  # pycuda: the array's base is its HostAllocation


class DeviceBuffer:
    """One device allocation of ``nbytes`` (at least one byte is allocated)."""

    def __init__(self, cuda: ModuleType, nbytes: int):
        self._allocation = cuda.mem_alloc(max(nbytes, 1))
        self.nbytes = nbytes
        self.address = int(self._allocation)

    def free(self) -> None:
        self._allocation.free()


class TensorBuffers:
    """Pinned host + device memory for one tensor, sized for its largest shape."""

    def __init__(self, cuda: ModuleType, max_shape: tuple[int, ...], dtype: np.dtype):
        self._cuda = cuda
        self.max_shape = tuple(max_shape)
        self.host = PinnedHostBuffer(cuda, math.prod(self.max_shape), np.dtype(dtype))
        self.device = DeviceBuffer(cuda, self.host.nbytes)

    @property
    def nbytes(self) -> int:
        return self.host.nbytes + self.device.nbytes

    def upload(self, array: np.ndarray, stream) -> None:
        staged = self.host.view(array.shape)
        np.copyto(staged, array)
        self._cuda.memcpy_htod_async(self.device.address, staged, stream)

    def download(self, shape: tuple[int, ...], stream) -> np.ndarray:
        """Queue the copy back; the returned view is valid after the stream synchronizes."""
        staged = self.host.view(shape)
        self._cuda.memcpy_dtoh_async(staged, self.device.address, stream)
        return staged

    def free(self) -> None:
        self.device.free()
        self.host.free()


class MappedDevicePointer:
    """The device address of mapped host memory: nothing of its own to free."""

    def __init__(self, host: PinnedHostBuffer):
        self.address = int(host.array.base.get_device_pointer())
        self.nbytes = host.nbytes


class MappedBuffers:
    """One mapped page-locked allocation per tensor (integrated GPUs): the kernels read and
    write the host memory itself, so there is nothing to copy; results are read after the
    stream synchronizes, as with :class:`TensorBuffers`."""

    def __init__(self, cuda: ModuleType, max_shape: tuple[int, ...], dtype: np.dtype):
        self.max_shape = tuple(max_shape)
        self.host = PinnedHostBuffer(cuda, math.prod(self.max_shape), np.dtype(dtype), mapped=True)
        self.device = MappedDevicePointer(self.host)

    @property
    def nbytes(self) -> int:
        return self.host.nbytes

    def upload(self, array: np.ndarray, stream) -> None:
        np.copyto(self.host.view(array.shape), array)  # calls are serialized: no GPU reader now

    def download(self, shape: tuple[int, ...], stream) -> np.ndarray:
        return self.host.view(shape)

    def free(self) -> None:
        self.host.free()


def io_buffers(cuda: ModuleType, max_shape: tuple[int, ...], dtype: np.dtype,
               integrated: bool) -> TensorBuffers | MappedBuffers:
    """Mapped host memory on an integrated GPU, pinned host + device memory otherwise."""
    return (MappedBuffers if integrated else TensorBuffers)(cuda, max_shape, dtype)
