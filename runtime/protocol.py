"""The backend protocol every runtime implements, in the Polygraphy runner style.

Public methods guard the state and check the feed; subclasses implement the ``*_impl`` hooks.
Feeds and results are dicts keyed by tensor name, never positional.
"""
from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np

from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierSpec, TierTable
from fuse_trt.engine.errors import BackendClosedError, InferenceInputError


@dataclass(frozen=True)
class BackendMemory:
    """What a backend holds, in bytes, as it reports it."""

    weights_bytes: int = 0
    io_buffer_bytes: int = 0
    scratch_bytes_per_tier: Mapping[str, int] = field(default_factory=dict)
    shared_scratch_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        if self.shared_scratch_bytes:
            scratch = self.shared_scratch_bytes
        else:
            scratch = sum(self.scratch_bytes_per_tier.values())
        return self.weights_bytes + self.io_buffer_bytes + scratch


class Backend(abc.ABC):
    """One loaded model that runs a feed for a tier: activate, infer, memory, close."""

    name: str = "backend"

    def __init__(self, spec: ModelSpec, tiers: TierTable, precision: str = "fp32"):
        self.spec = spec
        self.tiers = tiers
        self.precision = precision
        self.is_active = False
        self.is_closed = False

    # -- public template methods -------------------------------------------------------
    def activate(self) -> Backend:
        """Load and allocate everything; nothing is allocated per call afterwards (the ONNX
        Runtime backend makes each tier's session at that tier's first call)."""
        if not self.is_active:
            self._activate_impl()
            self.is_active, self.is_closed = True, False
        return self

    def infer(self, tier: TierSpec | str, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch in ``tier``; returns new arrays owned by the caller."""
        if not self.is_active:
            if self.is_closed:
                raise BackendClosedError(f"{self.name} backend closed; open a new one")
            raise RuntimeError(f"{self.name} backend used before activate()")
        tier_spec = self.tiers.by_name(tier.name if isinstance(tier, TierSpec) else tier)
        checked = self._check_feed(tier_spec, feed)
        return self._infer_impl(tier_spec, checked)

    def memory(self) -> BackendMemory:
        return self._memory_impl() if self.is_active else BackendMemory()

    def close(self) -> None:
        if self.is_active:
            self.is_active, self.is_closed = False, True
            self._close_impl()

    def __enter__(self) -> Backend:
        return self.activate()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # -- input checks ------------------------------------------------------------------
    def _check_feed(self, tier: TierSpec, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        expected, given = set(self.spec.input_names), set(feed)
        if expected != given:
            raise InferenceInputError(
                f"{self.name}: feed has tensors {sorted(given)}, model expects {sorted(expected)}")
        batch = None
        spatial = None
        checked = {}
        for tensor in self.spec.inputs:
            array = feed[tensor.name]
            if array.dtype != np.dtype(tensor.dtype):
                raise InferenceInputError(
                    f"{self.name}: input {tensor.name!r} has dtype {array.dtype}, expected {tensor.dtype}")
            rank = 4 if tensor.layout == "image" else 2
            if array.ndim != rank or array.shape[1] != tensor.channels:
                raise InferenceInputError(
                    f"{self.name}: input {tensor.name!r} has shape {array.shape}, expected "
                    f"{tensor.describe()}")
            batch = array.shape[0] if batch is None else batch
            if array.shape[0] != batch or not 1 <= batch <= tier.max_batch:
                raise InferenceInputError(
                    f"{self.name}: input {tensor.name!r} batch {array.shape[0]} must match the "
                    f"other inputs and lie in 1..{tier.max_batch} for tier {tier.name}")
            if rank == 4:
                height, width = array.shape[2:]
                spatial = (height, width) if spatial is None else spatial
                if (height, width) != spatial or not tier.contains(height, width):
                    raise InferenceInputError(
                        f"{self.name}: input {tensor.name!r} is {height}x{width} (HxW); tier "
                        f"{tier.name} takes {tier.min_shape} to {tier.max_shape}, equal across inputs")
            checked[tensor.name] = np.ascontiguousarray(array)
        return checked

    # -- implementation hooks ----------------------------------------------------------
    @abc.abstractmethod
    def _activate_impl(self) -> None: ...

    @abc.abstractmethod
    def _infer_impl(self, tier: TierSpec, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    @abc.abstractmethod
    def _memory_impl(self) -> BackendMemory: ...

    @abc.abstractmethod
    def _close_impl(self) -> None: ...
