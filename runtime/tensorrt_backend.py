"""TensorRT backend (pycuda): one execution context per tier, every buffer allocated once.

At ``activate()``: check the plan's sidecar against the running TensorRT and GPU, deserialize,
create one context per tier with its optimization profile selected once, one scratch area
shared by all contexts, and one set of pinned host + device buffers per I/O tensor shared by
all tiers (calls are serialized), sized for the largest volume any tier's profile allows;
each tier binds views of them. Per call: set shapes and addresses only when they changed,
copy in, execute, copy out, synchronize, return copies. Calls are serialized by a lock and
may come from any thread. tensorrt and pycuda are imported only when the backend is activated.
"""
from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierSpec, TierTable
from fuse_trt.engine.errors import BackendUnavailableError, InferenceInputError, PlanMismatchError
from fuse_trt.runtime.cuda_memory import (DeviceBuffer, MappedBuffers, PrimaryContext,
                                          TensorBuffers, io_buffers, is_integrated, load_pycuda,
                                          query_gpu)
from fuse_trt.runtime.plan_sidecar import (PlanSidecar, check_plan_runs_here, rebuild_command,
                                           sidecar_path)
from fuse_trt.runtime.protocol import Backend, BackendMemory
from fuse_trt.runtime.trt_compat import IOTensor, TensorRTCompat, load_tensorrt
from fuse_trt.runtime.trt_logger import make_trt_logger

log = logging.getLogger("fuse_trt")


@dataclass
class _TierSlot:
    """One tier: its execution context, its max shapes, and what is currently set on it."""

    profile_index: int
    context: object
    scratch_bytes: int
    max_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    addresses: dict[str, int] = field(default_factory=dict)


@dataclass
class _Loaded:
    """Everything ``activate()`` created, released in TensorRT's required order."""

    compat: TensorRTCompat
    cuda: ModuleType
    logger: object = None
    runtime: object = None
    engine: object = None
    stream: object = None
    scratch: DeviceBuffer | None = None
    io: tuple[IOTensor, ...] = ()
    slots: dict[str, _TierSlot] = field(default_factory=dict)
    buffers: dict[str, TensorBuffers | MappedBuffers] = field(default_factory=dict)  # all tiers
    weights_bytes: int = 0

    def release(self) -> None:
        """Contexts, engine, runtime, then buffers; the caller pops the CUDA context after."""
        for slot in self.slots.values():
            slot.context = None
        self.engine = None
        self.runtime = None
        self.logger = None
        for buffers in self.buffers.values():
            buffers.free()
        self.buffers.clear()
        if self.scratch is not None:
            self.scratch.free()
            self.scratch = None
        self.stream = None


def _covers(low, high, wanted_low, wanted_high) -> bool:
    """Does the profile range low..high contain wanted_low..wanted_high, dim by dim?"""
    same_rank = len(low) == len(wanted_low) and len(high) == len(wanted_high)
    return same_rank and all(a <= b for a, b in zip(low, wanted_low)) and all(
        a >= b for a, b in zip(high, wanted_high))


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, plan_path: Path, spec: ModelSpec, tiers: TierTable,
                 precision: str = "fp16", device: int = 0):
        super().__init__(spec, tiers, precision)
        self.plan_path = Path(plan_path)
        self.device = device
        self._cuda_context: PrimaryContext | None = None
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    # -- activate ----------------------------------------------------------------------
    def _activate_impl(self) -> None:
        compat, cuda = load_tensorrt(), load_pycuda()
        sidecar = PlanSidecar.read(sidecar_path(self.plan_path))
        check_plan_runs_here(sidecar, self.plan_path, compat.version,
                             query_gpu(cuda, self.device), self.precision)
        if sidecar.io_dtypes:  # FP16 plans take and return float16: feeds are built so
            self.spec = self.spec.with_io_dtypes(dict(sidecar.io_dtypes))
        cuda_context = PrimaryContext(cuda, self.device)
        loaded = _Loaded(compat=compat, cuda=cuda)
        try:
            with cuda_context.pushed():
                try:
                    self._load(loaded, sidecar)
                except BaseException:
                    loaded.release()
                    raise
        except BaseException:
            cuda_context.release()
            raise
        self._cuda_context, self._loaded = cuda_context, loaded

    def _load(self, loaded: _Loaded, sidecar: PlanSidecar) -> None:
        compat, trt = loaded.compat, loaded.compat.trt
        plan = self.plan_path.read_bytes()
        loaded.logger = make_trt_logger(trt)
        loaded.runtime = trt.Runtime(loaded.logger)
        compat.prepare_runtime(loaded.runtime, sidecar.dla_core, sidecar.version_compatible)
        loaded.engine = loaded.runtime.deserialize_cuda_engine(plan)
        if loaded.engine is None:
            raise PlanMismatchError(
                f"TensorRT {compat.version} could not deserialize {self.plan_path} (see the "
                f"TensorRT errors logged above); rebuild it with: "
                f"{rebuild_command(self.precision, self.plan_path.parent)}")
        loaded.io = self._checked_io(compat.io_tensors(loaded.engine))
        loaded.weights_bytes = compat.engine_weights_bytes(loaded.engine, len(plan))
        loaded.stream = loaded.cuda.Stream()
        indices = {tier.name: sidecar.profile_index(tier.name) for tier in self.tiers}
        # Every context runs on this one stream, one call at a time (the lock), so they can
        # share one scratch area sized for the largest profile.
        scratch_sizes = {name: compat.scratch_bytes(loaded.engine, index)
                         for name, index in indices.items()}
        loaded.scratch = DeviceBuffer(loaded.cuda, max(scratch_sizes.values()))
        max_shapes = {tier.name: {tensor.name: self._max_shape(loaded, tier, indices[tier.name],
                                                               tensor) for tensor in loaded.io}
                      for tier in self.tiers}
        integrated = is_integrated(loaded.cuda, self.device)  # Jetson: map, do not copy
        for tensor in loaded.io:
            volume = max(math.prod(shapes[tensor.name]) for shapes in max_shapes.values())
            loaded.buffers[tensor.name] = io_buffers(loaded.cuda, (volume,), tensor.dtype,
                                                     integrated)
        for tier in self.tiers:
            self._open_tier(loaded, tier, indices[tier.name], scratch_sizes[tier.name],
                            max_shapes[tier.name])
        loaded.stream.synchronize()
        log.info("tensorrt %s: %s with %d tier contexts", compat.version, self.plan_path.name,
                 len(loaded.slots))

    def _checked_io(self, io: tuple[IOTensor, ...]) -> tuple[IOTensor, ...]:
        expected = {tensor.name: np.dtype(tensor.dtype)
                    for tensor in (*self.spec.inputs, *self.spec.outputs)}
        found = {tensor.name: tensor.dtype for tensor in io}
        if found != expected:
            raise PlanMismatchError(
                f"{self.plan_path.name} has I/O {found}, model {self.spec.name!r} expects "
                f"{expected}; rebuild it with: "
                f"{rebuild_command(self.precision, self.plan_path.parent)}")
        return io

    def _open_tier(self, loaded: _Loaded, tier: TierSpec, index: int, scratch_bytes: int,
                   max_shapes: dict[str, tuple[int, ...]]) -> None:
        context = loaded.compat.create_context_without_scratch(loaded.engine)
        if context is None:
            raise BackendUnavailableError(f"TensorRT could not create an execution context for "
                                          f"tier {tier.name} (see the TensorRT errors above)")
        slot = _TierSlot(profile_index=index, context=context, scratch_bytes=scratch_bytes,
                         max_shapes=max_shapes)
        loaded.slots[tier.name] = slot
        loaded.compat.attach_scratch(context, loaded.scratch.address, loaded.scratch.nbytes)
        if not context.set_optimization_profile_async(index, loaded.stream.handle):
            raise PlanMismatchError(f"TensorRT refused optimization profile {index} for tier "
                                    f"{tier.name} of {self.plan_path.name}")
        for tensor in loaded.io:
            self._bind(slot, loaded.buffers[tensor.name], tensor.name)

    def _max_shape(self, loaded: _Loaded, tier: TierSpec, index: int,
                   tensor: IOTensor) -> tuple[int, ...]:
        if not tensor.is_input:
            return self.spec.max_shapes(tier)[tensor.name]
        low, _, high = loaded.compat.profile_shapes(loaded.engine, tensor.name, index)
        wanted = self.spec.profile_shapes(tier)[tensor.name]
        if not _covers(low, high, wanted["min"], wanted["max"]):
            raise PlanMismatchError(
                f"{self.plan_path.name}: profile {index} covers {tensor.name} {low}..{high}, tier "
                f"{tier.name} needs {wanted['min']}..{wanted['max']}; rebuild it with: "
                f"{rebuild_command(self.precision, self.plan_path.parent)}")
        return high

    # -- infer -------------------------------------------------------------------------
    def _infer_impl(self, tier: TierSpec, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        loaded = self._loaded
        slot = loaded.slots[tier.name]
        with self._lock, self._cuda_context.pushed():
            for name, array in feed.items():
                self._set_input_shape(slot, name, array.shape)
                self._bind(slot, loaded.buffers[name], name)
                loaded.buffers[name].upload(array, loaded.stream)
            for name in self.spec.output_names:
                self._bind(slot, loaded.buffers[name], name)
            if not slot.context.execute_async_v3(loaded.stream.handle):
                raise RuntimeError(f"TensorRT execute_async_v3 failed for tier {tier.name} "
                                   f"(see the TensorRT errors logged above)")
            staged = {name: loaded.buffers[name].download(self._output_shape(slot, name),
                                                          loaded.stream)
                      for name in self.spec.output_names}
            loaded.stream.synchronize()
        return {name: array.copy() for name, array in staged.items()}

    def _set_input_shape(self, slot: _TierSlot, name: str, shape: tuple[int, ...]) -> None:
        if slot.input_shapes.get(name) == shape:
            return
        if not slot.context.set_input_shape(name, shape):
            slot.input_shapes.pop(name, None)
            raise InferenceInputError(
                f"tensorrt: input {name!r} shape {shape} is outside optimization profile "
                f"{slot.profile_index} (max {slot.max_shapes[name]})")
        slot.input_shapes[name] = shape

    @staticmethod
    def _bind(slot: _TierSlot, buffers: TensorBuffers | MappedBuffers, name: str) -> None:
        address = buffers.device.address
        if slot.addresses.get(name) == address:
            return
        if not slot.context.set_tensor_address(name, address):
            raise RuntimeError(f"TensorRT refused the device address of {name!r}")
        slot.addresses[name] = address

    @staticmethod
    def _output_shape(slot: _TierSlot, name: str) -> tuple[int, ...]:
        shape = tuple(int(v) for v in slot.context.get_tensor_shape(name))
        capacity = slot.max_shapes[name]
        if any(v < 0 for v in shape) or math.prod(shape) > math.prod(capacity):
            raise RuntimeError(f"TensorRT output {name!r} has shape {shape}; tier profile "
                               f"{slot.profile_index} allows at most {capacity}")
        return shape

    # -- memory and close --------------------------------------------------------------
    def _memory_impl(self) -> BackendMemory:
        loaded = self._loaded
        io_bytes = sum(buffers.nbytes for buffers in loaded.buffers.values())
        return BackendMemory(
            weights_bytes=loaded.weights_bytes, io_buffer_bytes=io_bytes,
            scratch_bytes_per_tier={name: slot.scratch_bytes for name, slot in loaded.slots.items()},
            shared_scratch_bytes=loaded.scratch.nbytes)

    def _close_impl(self) -> None:
        with self._lock:
            loaded, cuda_context = self._loaded, self._cuda_context
            self._loaded, self._cuda_context = None, None
            with cuda_context.pushed():
                loaded.release()
            cuda_context.release()
