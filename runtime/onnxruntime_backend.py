"""ONNX Runtime backend: one session, one set of I/O buffers and one IOBinding for all tiers.

Calls are serialized, so every tier shares one flat host buffer per tensor, sized for the
largest volume any tier can send (the memory plan's shared I/O), allocated at activate(). A
call copies the feed into views of those buffers; the binding is redone only when the
(batch, H, W) changes, so steady-state inference allocates no input or output buffers.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
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
    cycles."""

    providers: tuple[str, ...] | None = None  # None: GPU providers when present, then CPU
    intra_op_threads: int = 0  # 0: ONNX Runtime's default (one per physical core)
    enable_cpu_mem_arena: bool = True
    enable_mem_pattern: bool = False
    graph_optimization: str = "ORT_ENABLE_ALL"
    allow_spinning: bool = True


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


@dataclass
class _SharedBuffers:
    flat: dict[str, np.ndarray]
    binding: onnxruntime.IOBinding
    bound_shape: tuple[int, int, int] | None = None  # (batch, H, W) last bound
    views: dict[str, np.ndarray] | None = None


def shared_capacity(spec: ModelSpec, tiers: TierTable) -> dict[str, int]:
    """Elements per tensor that hold the largest shape of any tier."""
    return {name: max(int(np.prod(spec.max_shapes(tier)[name])) for tier in tiers)
            for name in (*spec.input_names, *spec.output_names)}


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, onnx_path: Path, spec: ModelSpec, tiers: TierTable,
                 precision: str = "fp32", config: OrtConfig = OrtConfig()):
        super().__init__(spec, tiers, precision)
        self.onnx_path = Path(onnx_path)
        self.config = config
        self._session: onnxruntime.InferenceSession | None = None
        self._buffers: _SharedBuffers | None = None

    def _session_options(self) -> onnxruntime.SessionOptions:
        options = onnxruntime.SessionOptions()
        options.enable_cpu_mem_arena = self.config.enable_cpu_mem_arena
        options.enable_mem_pattern = self.config.enable_mem_pattern
        options.intra_op_num_threads = self.config.intra_op_threads
        options.graph_optimization_level = getattr(
            onnxruntime.GraphOptimizationLevel, self.config.graph_optimization)
        options.add_session_config_entry("session.intra_op.allow_spinning",
                                         "1" if self.config.allow_spinning else "0")
        return options

    def _activate_impl(self) -> None:
        providers = available_providers(self.config.providers)
        self._session = onnxruntime.InferenceSession(
            str(self.onnx_path), sess_options=self._session_options(), providers=providers)
        log.info("onnxruntime session on %s for %s", self._session.get_providers(), self.onnx_path)
        flat = {name: np.zeros(elements, dtype=self.spec.tensor(name).dtype)
                for name, elements in shared_capacity(self.spec, self.tiers).items()}
        self._buffers = _SharedBuffers(flat=flat, binding=self._session.io_binding())

    def _bind(self, tier_buffers: _SharedBuffers, batch: int, height: int, width: int) -> None:
        views = {}
        for tensor in (*self.spec.inputs, *self.spec.outputs):
            shape = tensor.shape(batch, height, width)
            view = tier_buffers.flat[tensor.name][:int(np.prod(shape))].reshape(shape)
            views[tensor.name] = view
        binding = tier_buffers.binding
        binding.clear_binding_inputs()
        binding.clear_binding_outputs()
        for tensor in self.spec.inputs:
            view = views[tensor.name]
            binding.bind_input(tensor.name, "cpu", 0, view.dtype.type, view.shape,
                               view.ctypes.data)
        for tensor in self.spec.outputs:
            view = views[tensor.name]
            binding.bind_output(tensor.name, "cpu", 0, view.dtype.type, view.shape,
                               view.ctypes.data)
        tier_buffers.views = views
        tier_buffers.bound_shape = (batch, height, width)

    def _infer_impl(self, tier: TierSpec, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tier_buffers = self._buffers
        first_image = next(feed[t.name] for t in self.spec.inputs if t.layout == "image")
        batch, _, height, width = first_image.shape
        if tier_buffers.bound_shape != (batch, height, width):
            self._bind(tier_buffers, batch, height, width)
        for name, array in feed.items():
            np.copyto(tier_buffers.views[name], array)
        self._session.run_with_iobinding(tier_buffers.binding)
        return {name: tier_buffers.views[name].copy() for name in self.spec.output_names}

    def output_buffer_addresses(self, tier: TierSpec | str | None = None) -> dict[str, int]:
        """Base addresses of the preallocated buffers, the same for every tier (tests check
        they never change)."""
        return {tensor: array.ctypes.data for tensor, array in self._buffers.flat.items()}

    def _memory_impl(self) -> BackendMemory:
        io_bytes = sum(array.nbytes for array in self._buffers.flat.values())
        return BackendMemory(weights_bytes=self.onnx_path.stat().st_size, io_buffer_bytes=io_bytes)

    def _close_impl(self) -> None:
        self._buffers = None
        self._session = None
