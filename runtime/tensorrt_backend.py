"""TensorRT backend (pycuda): one execution context per tier, every buffer allocated once.

At ``activate()``: check each plan's sidecar against the running TensorRT, the GPU and the
bundle's ONNX, deserialize, create one context per tier (from the plan that serves the tier:
a DLA plan for DLA tiers, the GPU plan for the rest) with its optimization profile selected
once, one scratch area shared by all contexts, and one set of pinned host + device buffers
per I/O tensor shared by all tiers (calls are serialized), sized for the largest volume any
tier's profile allows (one mapped allocation on an integrated GPU); each tier binds views of
them. Per call: set shapes and addresses only when they changed, copy in, execute, copy out,
synchronize, return copies.
Calls are serialized by a lock and may come from any thread. A finalizer releases
everything in TensorRT's order if the backend is dropped without ``close()``. tensorrt and
pycuda are imported only when the backend is activated.
"""
from __future__ import annotations

import logging
import math
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

import numpy as np

from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierSpec, TierTable
from fuse_trt.engine.errors import (BackendClosedError, BackendUnavailableError,
                                    InferenceInputError, PlanMismatchError)
from fuse_trt.runtime.cuda_memory import (DeviceBuffer, MappedBuffers, PrimaryContext,
                                          TensorBuffers, io_buffers, is_integrated, load_pycuda,
                                          query_gpu)
from fuse_trt.runtime.plan_sidecar import (PlanSidecar, check_plan_matches_model,
                                           check_plan_runs_here, sidecar_path,
                                           sidecar_rebuild_command)
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
class _LoadedPlan:
    """One deserialized plan: its runtime (DLA core set there) and engine."""

    path: Path
    sidecar: PlanSidecar
    runtime: object = None
    engine: object = None
    io: tuple[IOTensor, ...] = ()
    weights_bytes: int = 0


@dataclass
class _Loaded:
    """Everything ``activate()`` created, released in TensorRT's required order."""

    compat: TensorRTCompat
    cuda: ModuleType
    logger: object = None
    plans: dict[Path, _LoadedPlan] = field(default_factory=dict)
    stream: object = None
    scratch: DeviceBuffer | None = None
    slots: dict[str, _TierSlot] = field(default_factory=dict)
    buffers: dict[str, TensorBuffers | MappedBuffers] = field(default_factory=dict)  # all tiers

    def release(self) -> None:
        """Synchronize, then contexts, engines, runtimes, buffers; the caller pops after."""
        if self.stream is not None:
            self.stream.synchronize()  # freeing memory queued work still uses is undefined
        for slot in self.slots.values():
            slot.context = None
        for plan in self.plans.values():
            plan.engine = None
        for plan in self.plans.values():
            plan.runtime = None
        self.logger = None
        for buffers in self.buffers.values():
            buffers.free()
        self.buffers.clear()
        if self.scratch is not None:
            self.scratch.free()
            self.scratch = None
        self.stream = None


def _release(loaded: _Loaded, cuda_context: PrimaryContext) -> None:
    """The teardown ``close()`` and the finalizer share: from any thread, once."""
    try:
        with cuda_context.pushed():
            loaded.release()
    finally:
        cuda_context.release()


def _covers(low, high, wanted_low, wanted_high) -> bool:
    """Does the profile range low..high contain wanted_low..wanted_high, dim by dim?"""
    same_rank = len(low) == len(wanted_low) and len(high) == len(wanted_high)
    return same_rank and all(a <= b for a, b in zip(low, wanted_low)) and all(
        a >= b for a, b in zip(high, wanted_high))


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, plans: Path | Mapping[str, Path], spec: ModelSpec, tiers: TierTable,
                 precision: str = "fp16", device: int = 0, model_onnx_sha256: str | None = None):
        """``plans``: one plan for every tier, or {tier name: plan} (GPU and DLA plans)."""
        super().__init__(spec, tiers, precision)
        if isinstance(plans, Mapping):
            self.plan_routes = {name: Path(path) for name, path in plans.items()}
        else:
            self.plan_routes = {tier.name: Path(plans) for tier in tiers}
        self.plan_path = self.plan_routes[tiers.tiers[0].name]
        self.device = device
        self.model_onnx_sha256 = model_onnx_sha256
        self._cuda_context: PrimaryContext | None = None
        self._loaded: _Loaded | None = None
        self._finalizer: weakref.finalize | None = None
        self._lock = threading.Lock()

    # -- activate ----------------------------------------------------------------------
    def _activate_impl(self) -> None:
        compat, cuda = load_tensorrt(), load_pycuda()
        gpu = query_gpu(cuda, self.device)
        sidecars = {path: PlanSidecar.read(sidecar_path(path))
                    for path in dict.fromkeys(self.plan_routes.values())}
        for path, sidecar in sidecars.items():
            check_plan_runs_here(sidecar, path, compat.version, gpu, self.precision)
            check_plan_matches_model(sidecar, path, self.model_onnx_sha256, self.precision)
        io_dtypes = next((s.io_dtypes for s in sidecars.values() if s.io_dtypes), None)
        if io_dtypes:  # FP16 plans take and return float16: feeds are built so
            self.spec = self.spec.with_io_dtypes(dict(io_dtypes))
        cuda_context = PrimaryContext(cuda, self.device)
        loaded = _Loaded(compat=compat, cuda=cuda)
        try:
            with cuda_context.pushed():
                try:
                    self._load(loaded, sidecars)
                except BaseException:
                    loaded.release()
                    raise
        except cuda.MemoryError as error:
            cuda_context.release()
            raise BackendUnavailableError(
                f"out of GPU memory activating {', '.join(p.name for p in sidecars)} ({error}); "
                f"free GPU memory or build with a smaller --max-batch") from error
        except BaseException:
            cuda_context.release()
            raise
        self._cuda_context, self._loaded = cuda_context, loaded
        self._finalizer = weakref.finalize(self, _release, loaded, cuda_context)

    def _load(self, loaded: _Loaded, sidecars: dict[Path, PlanSidecar]) -> None:
        loaded.logger = make_trt_logger(loaded.compat.trt)
        for path, sidecar in sidecars.items():
            loaded.plans[path] = self._load_plan(loaded, path, sidecar)
        loaded.stream = loaded.cuda.Stream()
        indices = {tier.name: sidecars[self.plan_routes[tier.name]].profile_index(tier.name)
                   for tier in self.tiers}
        # Every context runs on this one stream, one call at a time (the lock), so they can
        # share one scratch area sized for the largest profile.
        scratch_sizes = {name: loaded.compat.scratch_bytes(self._plan_of(loaded, name).engine,
                                                           index)
                         for name, index in indices.items()}
        loaded.scratch = DeviceBuffer(loaded.cuda, max(scratch_sizes.values()))
        max_shapes = {tier.name: {tensor.name: self._max_shape(
            loaded, self._plan_of(loaded, tier.name), tier, indices[tier.name], tensor)
            for tensor in self._plan_of(loaded, tier.name).io} for tier in self.tiers}
        integrated = is_integrated(loaded.cuda, self.device)  # Jetson: map, do not copy
        for tensor in next(iter(loaded.plans.values())).io:
            volume = max(math.prod(shapes[tensor.name]) for shapes in max_shapes.values())
            loaded.buffers[tensor.name] = io_buffers(loaded.cuda, (volume,), tensor.dtype,
                                                     integrated)
        for tier in self.tiers:
            self._open_tier(loaded, tier, indices[tier.name], scratch_sizes[tier.name],
                            max_shapes[tier.name])
        loaded.stream.synchronize()
        log.info("tensorrt %s: %s with %d tier contexts", loaded.compat.version,
                 ", ".join(path.name for path in loaded.plans), len(loaded.slots))

    def _plan_of(self, loaded: _Loaded, tier_name: str) -> _LoadedPlan:
        return loaded.plans[self.plan_routes[tier_name]]

    def _load_plan(self, loaded: _Loaded, path: Path, sidecar: PlanSidecar) -> _LoadedPlan:
        compat, trt = loaded.compat, loaded.compat.trt
        plan = _LoadedPlan(path, sidecar)
        data = path.read_bytes()
        plan.runtime = trt.Runtime(loaded.logger)
        compat.prepare_runtime(plan.runtime, sidecar.dla_core, sidecar.version_compatible)
        plan.engine = plan.runtime.deserialize_cuda_engine(data)
        if plan.engine is None:
            raise PlanMismatchError(
                f"TensorRT {compat.version} could not deserialize {path} (see the TensorRT "
                f"errors logged above); rebuild it with: {self._rebuild(path)}")
        plan.io = self._checked_io(path, compat.io_tensors(plan.engine))
        plan.weights_bytes = compat.engine_weights_bytes(plan.engine, len(data))
        return plan

    def _rebuild(self, path: Path) -> str:
        sidecar = PlanSidecar.read(sidecar_path(path))
        return sidecar_rebuild_command(replace(sidecar, precision=self.precision), path)

    def _checked_io(self, path: Path, io: tuple[IOTensor, ...]) -> tuple[IOTensor, ...]:
        expected = {tensor.name: np.dtype(tensor.dtype)
                    for tensor in (*self.spec.inputs, *self.spec.outputs)}
        found = {tensor.name: tensor.dtype for tensor in io}
        if found != expected:
            raise PlanMismatchError(
                f"{path.name} has I/O {found}, model {self.spec.name!r} expects {expected}; "
                f"rebuild it with: {self._rebuild(path)}")
        return io

    def _open_tier(self, loaded: _Loaded, tier: TierSpec, index: int, scratch_bytes: int,
                   max_shapes: dict[str, tuple[int, ...]]) -> None:
        plan = self._plan_of(loaded, tier.name)
        context = loaded.compat.create_context_without_scratch(plan.engine)
        if context is None:
            raise BackendUnavailableError(f"TensorRT could not create an execution context for "
                                          f"tier {tier.name} (see the TensorRT errors above)")
        slot = _TierSlot(profile_index=index, context=context, scratch_bytes=scratch_bytes,
                         max_shapes=max_shapes)
        loaded.slots[tier.name] = slot
        loaded.compat.attach_scratch(context, loaded.scratch.address, loaded.scratch.nbytes)
        self._select_profile(loaded, plan, tier, slot)
        for tensor in plan.io:
            self._bind(slot, loaded.buffers[tensor.name], tensor.name)

    def _select_profile(self, loaded: _Loaded, plan: _LoadedPlan, tier: TierSpec,
                        slot: _TierSlot) -> None:
        """The bindings raise RuntimeError when TensorRT refuses (they assert the bool)."""
        try:
            slot.context.set_optimization_profile_async(slot.profile_index, loaded.stream.handle)
        except RuntimeError as error:
            raise PlanMismatchError(
                f"TensorRT refused optimization profile {slot.profile_index} for tier "
                f"{tier.name} of {plan.path.name} ({error}); rebuild it with: "
                f"{self._rebuild(plan.path)}") from error

    def _max_shape(self, loaded: _Loaded, plan: _LoadedPlan, tier: TierSpec, index: int,
                   tensor: IOTensor) -> tuple[int, ...]:
        if not tensor.is_input:
            return self.spec.max_shapes(tier)[tensor.name]
        low, _, high = loaded.compat.profile_shapes(plan.engine, tensor.name, index)
        wanted = self.spec.profile_shapes(tier)[tensor.name]
        if not _covers(low, high, wanted["min"], wanted["max"]):
            raise PlanMismatchError(
                f"{plan.path.name}: profile {index} covers {tensor.name} {low}..{high}, tier "
                f"{tier.name} needs {wanted['min']}..{wanted['max']}; rebuild it with: "
                f"{self._rebuild(plan.path)}")
        return high

    # -- infer -------------------------------------------------------------------------
    def _infer_impl(self, tier: TierSpec, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            loaded, cuda_context = self._loaded, self._cuda_context
            if loaded is None:
                raise BackendClosedError(f"{self.name} backend closed while a call for tier "
                                         f"{tier.name} was waiting")
            slot = loaded.slots[tier.name]
            with cuda_context.pushed():
                try:
                    staged = self._enqueue(loaded, slot, tier, feed)
                finally:
                    loaded.stream.synchronize()  # nothing stays in flight, even on failure
        return {name: array.copy() for name, array in staged.items()}

    def _enqueue(self, loaded: _Loaded, slot: _TierSlot, tier: TierSpec,
                 feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Queue copies in, the execution and copies out; views valid after synchronize."""
        for name, array in feed.items():
            self._set_input_shape(slot, name, array.shape)
            self._bind(slot, loaded.buffers[name], name)
            loaded.buffers[name].upload(array, loaded.stream)
        for name in self.spec.output_names:
            self._bind(slot, loaded.buffers[name], name)
        if not slot.context.execute_async_v3(loaded.stream.handle):
            raise RuntimeError(f"TensorRT execute_async_v3 failed for tier {tier.name} "
                               f"(see the TensorRT errors logged above)")
        return {name: loaded.buffers[name].download(self._output_shape(slot, name),
                                                    loaded.stream)
                for name in self.spec.output_names}

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
        if loaded is None:
            return BackendMemory()
        io_bytes = sum(buffers.nbytes for buffers in loaded.buffers.values())
        return BackendMemory(
            weights_bytes=sum(plan.weights_bytes for plan in loaded.plans.values()),
            io_buffer_bytes=io_bytes,
            scratch_bytes_per_tier={name: slot.scratch_bytes for name, slot in loaded.slots.items()},
            shared_scratch_bytes=loaded.scratch.nbytes)

    def _close_impl(self) -> None:
        with self._lock:
            finalizer = self._finalizer
            self._loaded, self._cuda_context, self._finalizer = None, None, None
            if finalizer is not None:
                finalizer()  # runs _release once; later garbage collection does nothing
