"""The device-memory plan of a bundle: what each tier needs and what the engine holds in all.

Computed from the ModelSpec, the tier table and the ONNX graph, on any machine. An engine
holds its weights, one scratch area shared by every tier (the largest tier's activations)
and one set of I/O buffers shared by every tier (the largest tier's max volume), so

    device total = weights + max over tiers (activations) + max over tiers (I/O bytes).

Discrete GPUs hold the I/O buffers twice, on the device and page-locked on the host; an
integrated GPU (Jetson) maps the one page-locked allocation into the device (zero extra).

Each tier's max batch comes from a budget (:func:`batches_for_budget`). The default budget,
300 MiB, is sized for a 4 GB Jetson Orin Nano running a camera pipeline next to us: of its
~3.3 GiB of DRAM left after carve-outs, JetPack's headless system takes ~0.5 GiB, the CUDA
context with TensorRT's and cuDNN's kernels ~0.9 GiB, the capture and detector pipeline
(1080p NV12 buffers, YuNet, encoder) ~0.5 GiB and the Python process with OpenCV and frame
copies ~0.4 GiB, which leaves ~1 GiB; a 300 MiB engine keeps more than two thirds of that
free for bursts and a second model. (Typical figures from JetPack 6 deployments, not
measured here.) For today's default UNet it gives batches 4 / 3 / 1 and a predicted
267 MiB; one 1024x1024 image needs 160 MiB.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from fuse_trt.engine.activations import ActivationEstimator
from fuse_trt.engine.errors import FuseTrtError, MemoryBudgetError
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import Shape2D, TierSpec, TierTable

MIB = 1 << 20
DEFAULT_VRAM_BUDGET = 300 * MIB
BUDGET_PRECISION = "fp16"  # batches are sized for the FP16 TensorRT plan edge GPUs run
ACTIVATION_BYTES = {"fp32": 4, "fp16": 2, "int8": 2}  # INT8 plans keep FP16 fallbacks: an upper bound
IO_DTYPES = {"fp32": "float32", "fp16": "float16", "int8": "float32"}
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
          "k": 1 << 10, "kib": 1 << 10, "m": MIB, "mib": MIB, "g": 1 << 30, "gib": 1 << 30}


def parse_bytes(text: str) -> int:
    """'512MiB' -> 536870912; units B, KiB/MiB/GiB (also K/M/G) and KB/MB/GB."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = match and match.group(2).lower()
    if match is None or unit not in _UNITS:
        raise FuseTrtError(f"cannot read the size {text!r}; write it like 300MiB or 1GiB")
    return int(float(match.group(1)) * _UNITS[unit])


def io_tensor_bytes(spec: ModelSpec, tier: TierSpec, batch: int, dtype: str) -> dict[str, int]:
    """Bytes of each input and output of ``spec`` at (batch, tier max H, W) in ``dtype``."""
    itemsize = np.dtype(dtype).itemsize
    return {tensor.name: math.prod(tensor.shape(batch, *tier.max_shape)) * itemsize
            for tensor in (*spec.inputs, *spec.outputs)}


@dataclass(frozen=True)
class TierMemory:
    """One tier at its max batch and max (H, W)."""

    name: str
    max_batch: int
    max_shape: Shape2D
    io_tensors: dict[str, int]  # bytes per I/O tensor
    activation_bytes: int
    peak_node: str

    @property
    def io_bytes(self) -> int:
        return sum(self.io_tensors.values())

    def to_json(self) -> dict:
        return {"max_batch": self.max_batch, "max_shape": list(self.max_shape),
                "io_bytes": self.io_bytes, "activation_bytes": self.activation_bytes,
                "peak_node": self.peak_node}


@dataclass(frozen=True)
class MemoryPlan:
    precision: str
    io_dtype: str
    weights_bytes: int
    tiers: tuple[TierMemory, ...]
    budget_bytes: int | None = None

    @property
    def shared_scratch_bytes(self) -> int:
        return max(tier.activation_bytes for tier in self.tiers)

    @property
    def shared_io_bytes(self) -> int:
        """One buffer per tensor, each as large as that tensor gets in any tier."""
        names = self.tiers[0].io_tensors
        return sum(max(tier.io_tensors[name] for tier in self.tiers) for name in names)

    @property
    def device_total_bytes(self) -> int:
        return self.weights_bytes + self.shared_scratch_bytes + self.shared_io_bytes

    def pinned_host_bytes(self, integrated: bool = False) -> int:
        """Page-locked host memory beyond the device total (none where host is device)."""
        return 0 if integrated else self.shared_io_bytes

    def fits(self) -> bool:
        return self.budget_bytes is None or self.device_total_bytes <= self.budget_bytes

    def tier(self, name: str) -> TierMemory:
        return next(tier for tier in self.tiers if tier.name == name)

    def to_json(self) -> dict:
        return {"precision": self.precision, "io_dtype": self.io_dtype,
                "weights_bytes": self.weights_bytes, "budget_bytes": self.budget_bytes,
                "shared_scratch_bytes": self.shared_scratch_bytes,
                "shared_io_bytes": self.shared_io_bytes,
                "device_total_bytes": self.device_total_bytes,
                "pinned_host_bytes": self.pinned_host_bytes(False),
                "pinned_host_bytes_integrated": self.pinned_host_bytes(True),
                "tiers": {tier.name: tier.to_json() for tier in self.tiers}}


def tier_memory(estimator: ActivationEstimator, tier: TierSpec, precision: str,
                batch: int | None = None) -> TierMemory:
    batch = batch or tier.max_batch
    peak = estimator.peak(batch, *tier.max_shape, ACTIVATION_BYTES[precision])
    return TierMemory(name=tier.name, max_batch=batch, max_shape=tier.max_shape,
                      io_tensors=io_tensor_bytes(estimator.spec, tier, batch,
                                                 IO_DTYPES[precision]),
                      activation_bytes=peak.bytes, peak_node=peak.node)


def memory_plan(estimator: ActivationEstimator, tiers: TierTable, precision: str,
                budget_bytes: int | None = None) -> MemoryPlan:
    """The plan of ``tiers`` as they are (each at its own max batch)."""
    return MemoryPlan(precision=precision, io_dtype=IO_DTYPES[precision],
                      weights_bytes=estimator.weights_bytes(ACTIVATION_BYTES[precision]),
                      tiers=tuple(tier_memory(estimator, tier, precision) for tier in tiers),
                      budget_bytes=budget_bytes)


def batches_for_budget(estimator: ActivationEstimator, tiers: TierTable, precision: str,
                       budget_bytes: int, max_batch: int) -> TierTable:
    """``tiers`` with each max batch as large as the budget allows, up to ``max_batch``.

    Every tier starts at batch 1 (which must fit); then, smallest tier first and round after
    round, a tier's batch grows by one while the device total stays within the budget.
    """
    weights = estimator.weights_bytes(ACTIVATION_BYTES[precision])
    cache: dict[tuple[str, int], TierMemory] = {}

    def cost(name: str, batch: int) -> TierMemory:
        if (name, batch) not in cache:
            cache[name, batch] = tier_memory(estimator, tiers.by_name(name), precision, batch)
        return cache[name, batch]

    def total(batches: dict[str, int]) -> int:
        chosen = tuple(cost(name, batch) for name, batch in batches.items())
        return MemoryPlan(precision, IO_DTYPES[precision], weights, chosen).device_total_bytes

    batches = dict.fromkeys(tiers.names(), 1)
    for name in batches:
        alone = weights + cost(name, 1).activation_bytes + cost(name, 1).io_bytes
        if alone > budget_bytes:
            raise MemoryBudgetError(
                f"a device-memory budget of {budget_bytes / MIB:.0f} MiB cannot hold one image "
                f"of tier {name} at {tiers.by_name(name).max_shape} ({precision}: "
                f"{alone / MIB:.0f} MiB); raise --vram-budget or drop the tier")
    grown = True
    while grown:
        grown = False
        for name in batches:
            trial = {**batches, name: batches[name] + 1}
            if trial[name] <= max_batch and total(trial) <= budget_bytes:
                batches, grown = trial, True
    return TierTable(tiers=tuple(replace(tier, max_batch=batches[tier.name]) for tier in tiers),
                     stride=tiers.stride, region=tiers.region)
