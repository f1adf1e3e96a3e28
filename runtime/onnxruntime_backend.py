"""ONNX Runtime backend: a session per tier, fixed to the tier's shape, over one set of I/O buffers.

A tier's session fixes the batch to 1 and every spatial side the tier's profile holds to one
size, the way a TensorRT profile does, so ONNX Runtime folds the graph's shape arithmetic and
fuses the decoder's sums and ReLUs into its convolutions. A batch runs item by item through it
(the stream's four-face rows ran 0.99x of the batched symbolic session,
benchmarks/stream/ab/stream_fps_ab_tier_sessions.md). Each session is made at its tier's first
call: a session loads its own weights and their prepacked copies, so a process that uses one
tier holds one copy. All of them draw their activations from one CPU arena registered in
ONNX Runtime's process environment (only sessions that ask with ``session.use_env_allocators``
use it), so a process that switches tiers keeps one arena, not one per tier. ONNX Runtime's
plan-time memory reuse is off: with fixed shapes it reserves freed buffers for later tensors
of the same size, which kept the arena from coalescing them and raised the peak 18-25%
(0.62x PyTorch's at 768). Measured with
``benchmarks/ort_session_settings.py --set tier`` (benchmarks/cpu/ort_session_settings.tier.md):
1.00-1.10x faster model-only than symbolic dims, peak 0.45-0.53x PyTorch's.

Calls are serialized, so every tier shares one flat host buffer per tensor, sized for the
largest volume any tier can send (the memory plan's shared I/O), allocated at activate(). A
call copies the feed into views of those buffers; each tier's session holds one IOBinding per
batch item, bound again only when the tier's (H, W) changes, so steady-state inference
allocates no input or output buffers.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime

from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierSpec, TierTable
from fuse_trt.runtime.protocol import Backend, BackendMemory

log = logging.getLogger("fuse_trt")

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


@dataclass(frozen=True)
class OrtConfig:
    """Session settings, chosen by benchmarks/ort_session_settings.py (committed output in
    benchmarks/cpu/ort_session_settings.md): the CPU arena is faster than plain allocations
    at every tier and had the lower peak RSS too; the memory pattern raised the peak above
    PyTorch's. Spinning workers (ONNX Runtime's default) were 1.00-1.14x faster model-only on
    an idle machine, within 2% for a whole fuse(), and gave the stream 1.03-1.13x more fps; on
    a machine shared with other busy processes, allow_spinning=False leaves them the idle
    cycles. Fixed tier shapes, the shared arena and memory reuse off (module docstring) were
    measured the same way (``--set tier``)."""

    providers: tuple[str, ...] | None = None  # None: GPU providers when present, then CPU
    intra_op_threads: int = 0  # 0: ONNX Runtime's default (one per physical core)
    enable_cpu_mem_arena: bool = True
    enable_mem_pattern: bool = False
    enable_mem_reuse: bool = False
    graph_optimization: str = "ORT_ENABLE_ALL"
    allow_spinning: bool = True
    fixed_tier_shapes: bool = True  # False: every tier session keeps the ONNX's symbolic dims
    shared_arena: bool = True  # with the arena on; False: an arena per tier session


def available_providers(requested: tuple[str, ...] | None) -> list[str]:
    present = onnxruntime.get_available_providers()
    if requested is not None:
        missing = [name for name in requested if name not in present]
        if missing:
            from fuse_trt.engine.errors import BackendUnavailableError

            raise BackendUnavailableError(
                f"ONNX Runtime execution providers {missing} are not installed; have {present}")
        return list(requested)
    return [name for name in (*GPU_PROVIDERS, "CPUExecutionProvider") if name in present]


@functools.cache
def register_shared_cpu_arena() -> None:
    """Register, once per process, the CPU arena that the tier sessions share."""
    memory_info = onnxruntime.OrtMemoryInfo(
        "Cpu", onnxruntime.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, onnxruntime.OrtMemType.DEFAULT)
    onnxruntime.create_and_register_allocator(memory_info, onnxruntime.OrtArenaCfg({}))


def fixed_dimensions(spec: ModelSpec, tier: TierSpec) -> dict[str, int]:
    """The symbolic input dims a tier's session fixes: the batch (items run one at a time)
    and each spatial side that the tier's profile holds to one size."""
    (min_height, min_width), (max_height, max_width) = tier.min_shape, tier.max_shape
    fixed = {}
    for tensor in spec.inputs:
        axes = tensor.dynamic_axes()
        fixed[axes[0]] = 1
        if tensor.layout == "image":
            if min_height == max_height:
                fixed[axes[2]] = min_height
            if min_width == max_width:
                fixed[axes[3]] = min_width
    return fixed


def shared_capacity(spec: ModelSpec, tiers: TierTable) -> dict[str, int]:
    """Elements per tensor that hold the largest shape of any tier."""
    return {name: max(int(np.prod(spec.max_shapes(tier)[name])) for tier in tiers)
            for name in (*spec.input_names, *spec.output_names)}


@dataclass
class _ItemBinding:
    binding: onnxruntime.IOBinding
    sides: tuple[int, int] | None = None  # the (H, W) it is bound to


@dataclass
class _TierSession:
    session: onnxruntime.InferenceSession
    items: list[_ItemBinding] = field(default_factory=list)  # one per batch item


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, onnx_path: Path, spec: ModelSpec, tiers: TierTable,
                 precision: str = "fp32", config: OrtConfig = OrtConfig()):
        super().__init__(spec, tiers, precision)
        self.onnx_path = Path(onnx_path)
        self.config = config
        self._providers: list[str] = []
        self._sessions: dict[str, _TierSession] = {}
        self._flat: dict[str, np.ndarray] | None = None

    @property
    def _uses_shared_arena(self) -> bool:
        return self.config.enable_cpu_mem_arena and self.config.shared_arena

    def _session_options(self, tier: TierSpec) -> onnxruntime.SessionOptions:
        options = onnxruntime.SessionOptions()
        options.enable_cpu_mem_arena = self.config.enable_cpu_mem_arena
        options.enable_mem_pattern = self.config.enable_mem_pattern
        options.enable_mem_reuse = self.config.enable_mem_reuse
        options.intra_op_num_threads = self.config.intra_op_threads
        options.graph_optimization_level = getattr(
            onnxruntime.GraphOptimizationLevel, self.config.graph_optimization)
        options.add_session_config_entry("session.intra_op.allow_spinning",
                                         "1" if self.config.allow_spinning else "0")
        if self._uses_shared_arena:
            options.add_session_config_entry("session.use_env_allocators", "1")
        if self.config.fixed_tier_shapes:
            for dim_name, size in fixed_dimensions(self.spec, tier).items():
                options.add_free_dimension_override_by_name(dim_name, size)
        return options

    def _activate_impl(self) -> None:
        self._providers = available_providers(self.config.providers)
        if not self.onnx_path.is_file():
            from fuse_trt.engine.errors import BackendUnavailableError

            raise BackendUnavailableError(f"ONNX model {self.onnx_path} does not exist")
        if self._uses_shared_arena:
            register_shared_cpu_arena()
        self._flat = {name: np.zeros(elements, dtype=self.spec.tensor(name).dtype)
                      for name, elements in shared_capacity(self.spec, self.tiers).items()}

    def tier_session(self, tier: TierSpec) -> onnxruntime.InferenceSession:
        """The session of ``tier``, made at its first use."""
        return self._tier_session(tier).session

    def _tier_session(self, tier: TierSpec) -> _TierSession:
        if tier.name not in self._sessions:
            session = onnxruntime.InferenceSession(
                str(self.onnx_path), sess_options=self._session_options(tier),
                providers=self._providers)
            log.info("onnxruntime session for tier %s on %s for %s", tier.name,
                     session.get_providers(), self.onnx_path)
            self._sessions[tier.name] = _TierSession(session)
        return self._sessions[tier.name]

    def _views(self, batch: int, height: int, width: int) -> dict[str, np.ndarray]:
        views = {}
        for tensor in (*self.spec.inputs, *self.spec.outputs):
            shape = tensor.shape(batch, height, width)
            views[tensor.name] = self._flat[tensor.name][:int(np.prod(shape))].reshape(shape)
        return views

    def _item_binding(self, tier_session: _TierSession, item: int, views: dict[str, np.ndarray],
                      sides: tuple[int, int]) -> onnxruntime.IOBinding:
        """Item ``item``'s binding, bound again only when the tier's (H, W) changed."""
        if item == len(tier_session.items):
            tier_session.items.append(_ItemBinding(tier_session.session.io_binding()))
        bound = tier_session.items[item]
        binding = bound.binding
        if bound.sides != sides:
            binding.clear_binding_inputs()
            binding.clear_binding_outputs()
            for tensor in self.spec.inputs:
                view = views[tensor.name][item:item + 1]
                binding.bind_input(tensor.name, "cpu", 0, view.dtype.type, view.shape,
                                   view.ctypes.data)
            for tensor in self.spec.outputs:
                view = views[tensor.name][item:item + 1]
                binding.bind_output(tensor.name, "cpu", 0, view.dtype.type, view.shape,
                                    view.ctypes.data)
            bound.sides = sides
        return binding

    def _infer_impl(self, tier: TierSpec, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        first_image = next(feed[t.name] for t in self.spec.inputs if t.layout == "image")
        batch, _, height, width = first_image.shape
        tier_session = self._tier_session(tier)
        views = self._views(batch, height, width)
        for name, array in feed.items():
            np.copyto(views[name], array)
        for item in range(batch):
            binding = self._item_binding(tier_session, item, views, (height, width))
            tier_session.session.run_with_iobinding(binding)
        return {name: views[name].copy() for name in self.spec.output_names}

    def output_buffer_addresses(self, tier: TierSpec | str | None = None) -> dict[str, int]:
        """Base addresses of the preallocated buffers, the same for every tier (tests check
        they never change)."""
        return {tensor: array.ctypes.data for tensor, array in self._flat.items()}

    def _memory_impl(self) -> BackendMemory:
        io_bytes = sum(array.nbytes for array in self._flat.values())
        weights = self.onnx_path.stat().st_size * len(self._sessions)  # each loads its copy
        return BackendMemory(weights_bytes=weights, io_buffer_bytes=io_bytes)

    def _close_impl(self) -> None:
        self._flat = None
        self._sessions = {}
