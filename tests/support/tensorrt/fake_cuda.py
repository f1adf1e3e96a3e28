"""A fake ``pycuda`` whose "device" memory is host numpy memory at integer addresses.

Like CUDA, allocations and copies need a context current on the calling thread, async
copies run only when their stream synchronizes, and copies to or from the host must use
page-locked memory. ``FakeGpu.counts`` counts allocations and ``FakeGpu.events`` records
releases in order, for the teardown and allocate-once checks.

Contexts follow pycuda's ``cuda.hpp``: each thread has the driver's context stack
(:meth:`FakeGpu.stack`) and pycuda's own (:meth:`FakeGpu.pycuda_stack`); ``push``/``pop``
keep one pycuda context on the driver stack at a time; ``detach`` of a retained primary
context releases it (``cuDevicePrimaryCtxRelease``, which pops nothing) when it is current,
pushes then releases on its creating thread, and does nothing at all on another thread.
Frees activate the allocation's context the way pycuda does ("cannot activate out-of-thread
context"), and freeing while a stream still has queued work raises, since the work may use
the memory. ``FakeGpu.fail_allocations_after`` makes ``mem_alloc`` run out of memory.
"""
from __future__ import annotations

import importlib.machinery
import threading
import types
from collections import Counter

import numpy as np

ALIGNMENT = 256


class Error(Exception):
    """pycuda.driver.Error"""


class FakeCudaError(Error, RuntimeError):
    """Any other pycuda driver error (pycuda raises Error subclasses)."""


class MemoryError(Error):  # noqa: A001 - pycuda's name
    """pycuda.driver.MemoryError: CUDA_ERROR_OUT_OF_MEMORY"""


class LogicError(Error):
    """pycuda.driver.LogicError"""


class FakeGpu:
    """``integrated``: a Jetson-like GPU whose device memory is the host's (DEVICEMAP works)."""

    def __init__(self, name: str = "Emulated GPU", compute_capability=(8, 7),
                 total_memory: int = 8 << 30, integrated: bool = False):
        self.name, self.compute_capability = name, tuple(compute_capability)
        self.total_memory, self.integrated = int(total_memory), bool(integrated)
        self.allocations: dict[int, np.ndarray] = {}
        self.mapped: set[int] = set()  # device addresses that are mapped page-locked host memory
        self.pinned_bytes = 0  # page-locked host memory alive now
        self.streams: dict[int, FakeStream] = {}
        self.counts: Counter = Counter()
        self.events: list[str] = []
        self.retained = 0
        self.free_memory = 8 << 30
        self.fail_allocations_after: int | None = None  # mem_alloc calls that still succeed
        self._next_address = 0x7F00_0000
        self._stacks = threading.local()

    # -- contexts ----------------------------------------------------------------------
    def stack(self) -> list:
        """The driver's context stack of the calling thread (what CUDA calls see)."""
        if not hasattr(self._stacks, "driver"):
            self._stacks.driver = []
        return self._stacks.driver

    def pycuda_stack(self) -> list:
        """pycuda's own per-thread stack of context objects."""
        if not hasattr(self._stacks, "pycuda"):
            self._stacks.pycuda = []
        return self._stacks.pycuda

    def current(self, except_context=None):
        """pycuda's ``current_context(except)``: the top valid context, popping dead ones."""
        stack = self.pycuda_stack()
        while stack:
            if stack[-1] is not except_context and not stack[-1].detached:
                return stack[-1]
            stack.pop()
        return None

    def pending_work(self) -> bool:
        return any(stream.queue for stream in self.streams.values())

    def check_idle(self, what: str) -> None:
        if self.pending_work():
            raise FakeCudaError(f"{what} while a stream still has queued work that may use it")

    def require_context(self, what: str) -> None:
        if not self.stack():
            raise FakeCudaError(f"{what}: no CUDA context is current on this thread")

    # -- memory ------------------------------------------------------------------------
    def allocate(self, nbytes: int) -> int:
        address = self._next_address
        self._next_address += -(-max(nbytes, 1) // ALIGNMENT) * ALIGNMENT + ALIGNMENT
        self.allocations[address] = np.zeros(nbytes, np.uint8)
        return address

    def map_host(self, host: bytearray) -> int:
        """Give page-locked host memory a device address that reads and writes the same bytes."""
        address = self._next_address
        self._next_address += -(-max(len(host), 1) // ALIGNMENT) * ALIGNMENT + ALIGNMENT
        self.allocations[address] = np.frombuffer(host, np.uint8)
        self.mapped.add(address)
        return address

    def device_bytes(self) -> int:
        """Device memory alive now, mapped host memory not counted (it is host memory)."""
        return sum(storage.size for address, storage in self.allocations.items()
                   if address not in self.mapped)

    def release(self, address: int) -> None:
        if self.allocations.pop(address, None) is None:
            raise FakeCudaError(f"free of {address:#x}: not a live allocation")
        self.mapped.discard(address)

    def remaining(self, address: int) -> int:
        """Bytes from ``address`` to the end of its live allocation."""
        for base, storage in self.allocations.items():
            if base <= address < base + max(storage.size, 1):
                return base + storage.size - address
        raise FakeCudaError(f"{address:#x} is not inside a live device allocation")

    def view(self, address: int, nbytes: int) -> np.ndarray:
        if nbytes > self.remaining(address):
            raise FakeCudaError(f"access of {nbytes} bytes at {address:#x} overruns its allocation")
        for base, storage in self.allocations.items():
            if base <= address < base + max(storage.size, 1):
                return storage[address - base:address - base + nbytes]
        raise AssertionError("unreachable")


def _ward_context(gpu: FakeGpu, what: str):
    """pycuda's context_dependent: an allocation remembers the context current at creation."""
    context = gpu.current()
    if context is None:
        raise FakeCudaError(f"{what}: no currently active context?")
    return context


def _in_ward_context(gpu: FakeGpu, context, release) -> None:
    """pycuda's scoped_context_activation around a free."""
    if gpu.current() is context:
        release()
        return
    if context.detached:
        raise FakeCudaError("cannot activate dead context")
    if context.thread is not threading.current_thread():
        raise FakeCudaError("cannot activate out-of-thread context")
    context.push()
    try:
        release()
    finally:
        context.pop(record=False)


class HostAllocation(bytearray):
    def __init__(self, gpu: FakeGpu, nbytes: int, mapped: bool = False):
        super().__init__(nbytes)
        self.gpu, self.freed = gpu, False
        self.context = _ward_context(gpu, "pagelocked_empty")
        gpu.pinned_bytes += nbytes
        self.device_address = gpu.map_host(self) if mapped else None

    def get_device_pointer(self) -> int:
        if self.device_address is None:
            raise FakeCudaError("get_device_pointer of host memory allocated without DEVICEMAP")
        return self.device_address

    def free(self) -> None:
        if self.freed:
            raise FakeCudaError("pinned host memory freed twice")
        self.gpu.check_idle("free of pinned host memory")
        _in_ward_context(self.gpu, self.context, self._release)

    def _release(self) -> None:
        self.freed = True
        self.gpu.pinned_bytes -= len(self)
        if self.device_address is not None:
            self.gpu.release(self.device_address)
        self.gpu.events.append("free host")


class DeviceAllocation:
    def __init__(self, gpu: FakeGpu, nbytes: int):
        self.context = _ward_context(gpu, "mem_alloc")
        self.gpu, self.address = gpu, gpu.allocate(nbytes)

    def __int__(self):
        return self.address

    def free(self) -> None:
        self.gpu.check_idle(f"free of device memory {self.address:#x}")
        _in_ward_context(self.gpu, self.context, self._release)

    def _release(self) -> None:
        self.gpu.release(self.address)
        self.gpu.events.append("free device")


class FakeStream:
    def __init__(self, gpu: FakeGpu):
        gpu.require_context("Stream()")
        gpu.counts["Stream"] += 1
        self.gpu, self.handle, self.queue = gpu, 0x5_0000 + len(gpu.streams) + 1, []
        gpu.streams[self.handle] = self

    def enqueue(self, work) -> None:
        self.queue.append(work)

    def synchronize(self) -> None:
        self.gpu.require_context("Stream.synchronize")
        work, self.queue = self.queue, []
        for job in work:
            job()


class FakeContext:
    """A retained primary context, with pycuda's push/pop/detach semantics (module doc)."""

    def __init__(self, gpu: FakeGpu):
        self.gpu, self.detached = gpu, False
        self.thread = threading.current_thread()  # pycuda's m_thread: the creating thread
        gpu.retained += 1

    def push(self) -> None:
        if self.detached:
            raise FakeCudaError("push of a detached context")
        if self.gpu.pycuda_stack():  # prepare_context_switch
            self.gpu.stack().pop()
        self.gpu.stack().append(self)
        self.gpu.pycuda_stack().append(self)

    def pop(self, record: bool = True) -> None:
        """pycuda's static ``Context.pop``: pops whatever pycuda context is current."""
        gpu = self.gpu
        if gpu.pycuda_stack():
            gpu.stack().pop()
        if not gpu.pycuda_stack():
            raise FakeCudaError("cannot pop non-current context")
        gpu.pycuda_stack().pop()
        current = gpu.current()
        if current is not None:
            gpu.stack().append(current)
        if record:
            gpu.events.append("pop")

    def detach(self) -> None:
        gpu = self.gpu
        if self.detached:
            raise FakeCudaError("cannot detach from invalid context")
        active = gpu.current() is self
        if active:
            self._release()
        elif self.thread is threading.current_thread():
            gpu.stack().append(self)  # cuCtxPushCurrent; the primary release pops nothing
            self._release()
        else:
            gpu.events.append("detach ignored: out-of-thread context")
        self.detached = True
        if active:
            new_active = gpu.current(except_context=self)
            if new_active is not None:
                gpu.stack().append(new_active)

    def _release(self) -> None:
        self.gpu.retained -= 1
        self.gpu.events.append("detach")


def _pinned(array: np.ndarray) -> HostAllocation | None:
    owner = array
    while isinstance(owner, np.ndarray):
        owner = owner.base
    return owner if isinstance(owner, HostAllocation) and not owner.freed else None


def make_pycuda(gpu: FakeGpu) -> tuple[types.ModuleType, types.ModuleType]:
    """(pycuda, pycuda.driver) modules backed by ``gpu``."""
    driver = types.ModuleType("pycuda.driver")

    class Device:
        def __init__(self, index: int):
            if index != 0:
                raise FakeCudaError(f"invalid device ordinal {index}")

        def name(self):
            return gpu.name

        def compute_capability(self):
            return gpu.compute_capability

        @staticmethod
        def count():
            return 1

        def retain_primary_context(self):
            return FakeContext(gpu)

        @staticmethod
        def count():
            return 1

        def total_memory(self):
            return gpu.total_memory

        def get_attribute(self, attribute):
            if attribute is device_attribute.INTEGRATED:
                return int(gpu.integrated)
            if attribute is device_attribute.CAN_MAP_HOST_MEMORY:
                return 1
            raise FakeCudaError(f"device attribute {attribute!r} is not emulated")

    device_attribute = types.SimpleNamespace(INTEGRATED=object(), CAN_MAP_HOST_MEMORY=object())
    host_alloc_flags = types.SimpleNamespace(PORTABLE=1, DEVICEMAP=2, WRITECOMBINED=4)

    def mem_alloc(nbytes):
        gpu.require_context("mem_alloc")
        if gpu.fail_allocations_after is not None:
            if gpu.fail_allocations_after <= 0:
                raise MemoryError("cuMemAlloc failed: out of memory")
            gpu.fail_allocations_after -= 1
        gpu.counts["mem_alloc"] += 1
        return DeviceAllocation(gpu, int(nbytes))

    def mem_get_info():
        gpu.require_context("mem_get_info")
        return gpu.free_memory, 16 << 30

    def pagelocked_empty(shape, dtype, order="C", mem_flags=0):
        gpu.require_context("pagelocked_empty")
        gpu.counts["pagelocked_empty"] += 1
        mapped = bool(mem_flags & host_alloc_flags.DEVICEMAP)
        if mapped and not gpu.integrated:
            gpu.counts["mapped_on_discrete"] += 1  # legal, but slow: every access crosses PCIe
        shape = (shape,) if np.isscalar(shape) else tuple(shape)
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return np.ndarray(shape, dtype, buffer=HostAllocation(gpu, nbytes, mapped), order=order)

    def memcpy_htod_async(dest, src, stream=None):
        _check_copy(gpu, src, stream, "memcpy_htod_async")
        flat = src.reshape(-1).view(np.uint8)
        stream.enqueue(lambda: gpu.view(int(dest), flat.size).__setitem__(slice(None), flat))

    def memcpy_dtoh_async(dest, src, stream=None):
        _check_copy(gpu, dest, stream, "memcpy_dtoh_async")
        flat = dest.reshape(-1).view(np.uint8)
        stream.enqueue(lambda: flat.__setitem__(slice(None), gpu.view(int(src), flat.size)))

    driver.__dict__.update(
        init=lambda: None, Device=Device, Context=FakeContext, mem_alloc=mem_alloc,
        mem_get_info=mem_get_info, Error=Error, MemoryError=MemoryError, LogicError=LogicError,
        pagelocked_empty=pagelocked_empty, memcpy_htod_async=memcpy_htod_async,
        device_attribute=device_attribute, host_alloc_flags=host_alloc_flags,
        memcpy_dtoh_async=memcpy_dtoh_async, Stream=lambda: FakeStream(gpu),
        get_version=lambda: (12, 4, 0), get_driver_version=lambda: 12040)
    package = types.ModuleType("pycuda")
    package.__path__ = []
    package.driver = driver
    package.__spec__ = importlib.machinery.ModuleSpec("pycuda", None, is_package=True)
    driver.__spec__ = importlib.machinery.ModuleSpec("pycuda.driver", None)
    return package, driver


def _check_copy(gpu: FakeGpu, host: np.ndarray, stream, what: str) -> None:
    gpu.require_context(what)
    if not isinstance(stream, FakeStream):
        raise FakeCudaError(f"{what} needs a stream, got {stream!r}")
    if _pinned(host) is None:
        raise FakeCudaError(f"{what} with pageable (not page-locked) host memory")
    if not host.flags.c_contiguous:
        raise FakeCudaError(f"{what} with non-contiguous host memory")
