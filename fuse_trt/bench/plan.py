"""Which (backend, precision, tier) combinations a benchmark run measures, and why others not."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from fuse_trt.bench.openvino_peer import (PEERS, OpenVinoBackend, Peer, openvino_unavailable,
                                          peer_onnx)
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind, BackendName, Precision, values
from fuse_trt.engine.tiers import TierSpec
from fuse_trt.engine.errors import FuseTrtError
from fuse_trt.runtime.protocol import Backend
from fuse_trt.runtime.select import available_backends

# OpenVINO is a peer row on the same FP32 ONNX, not a backend the pipeline selects; its
# row on the original graph (Peer.ORIGINAL_GRAPH) comes with the original ONNX, not by name
BENCH_BACKENDS = (BackendName.TENSORRT, BackendName.ONNXRUNTIME, Peer.SAME_GRAPH,
                  BackendName.TORCH)


@dataclass(frozen=True)
class Combination:
    backend: str
    precision: str

    @property
    def label(self) -> str:
        return f"{self.backend}/{self.precision}"


def _cuda_for_torch() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def why_not(bundle: Bundle, backend: str, precision: str) -> str | None:
    """None if ``backend`` can run ``precision`` from ``bundle`` here, else the reason."""
    if backend in PEERS:
        return openvino_unavailable(precision, backend)
    if backend not in available_backends():
        return f"{backend} is not installed"
    manifest = bundle.manifest
    if backend == BackendName.ONNXRUNTIME and not manifest.find(ArtifactKind.ONNX, precision):
        return f"the bundle has no {precision} ONNX (fuse-trt build --precision {precision})"
    if backend == BackendName.TENSORRT \
            and not manifest.find(ArtifactKind.PLAN, precision, BackendName.TENSORRT):
        return f"the bundle has no {precision} TensorRT plan"
    if backend == BackendName.TORCH:
        if manifest.unet_config is None or not manifest.find(ArtifactKind.WEIGHTS, Precision.FP32):
            return "the bundle holds no FusionUNet weights for the PyTorch path"
        if precision == Precision.INT8:
            return "the PyTorch reference path has no int8"
        if precision == Precision.FP16 and not _cuda_for_torch():
            return "the PyTorch path runs fp16 only on a CUDA device"
    return None


def _default_precisions(bundle: Bundle, backend: str) -> list[str]:
    return [precision for precision in values(Precision)
            if why_not(bundle, backend, precision) is None]


def plan_combinations(bundle: Bundle, backends: tuple[str, ...] | None,
                      precisions: tuple[str, ...] | None, original_onnx: Path | None = None
                      ) -> tuple[list[Combination], list[dict]]:
    """The combinations to run, and ``{backend, precision, reason}`` for each one left out.

    ``backends`` None: every installed backend; ``precisions`` None: every precision the
    bundle holds for that backend (an explicit list is crossed with the backends). An
    ``original_onnx`` adds the OpenVINO row on that original graph, whatever ``backends``.
    """
    for name in (*(backends or ()), *(precisions or ())):
        if name not in (*BENCH_BACKENDS, *values(Precision)):
            raise FuseTrtError(f"unknown backend or precision {name!r}; backends: "
                               f"{', '.join(BENCH_BACKENDS)}; precisions: "
                               f"{', '.join(values(Precision))}")
    chosen, skipped = [], []
    # by default the OpenVINO peer is always asked for, so a run without it says why
    default = [b for b in BENCH_BACKENDS if b in available_backends() or b == Peer.SAME_GRAPH]
    original = [Peer.ORIGINAL_GRAPH] if original_onnx is not None else []
    for backend in [*(backends or default), *original]:
        wanted = precisions or _default_precisions(bundle, backend)
        if not wanted:  # say why the backend has nothing, not just that it has nothing
            skipped.append({"backend": backend, "precision": "any", "reason":
                            why_not(bundle, backend, "fp32") or "no artifact it can run"})
        for precision in wanted:
            reason = why_not(bundle, backend, precision)
            if reason is None:
                chosen.append(Combination(backend, precision))
            else:
                skipped.append({"backend": backend, "precision": precision, "reason": reason})
    if not chosen:
        raise FuseTrtError("nothing to benchmark: " + "; ".join(
            f"{s['backend']}/{s['precision']}: {s['reason']}" for s in skipped))
    return chosen, skipped


def open_bench_backend(bundle: Bundle, backend: str, precision: str,
                       original_onnx: Path | None = None) -> Backend:
    """The (not yet activated) backend of one combination, the OpenVINO peers included."""
    if backend in PEERS:
        return OpenVinoBackend(peer_onnx(backend, bundle, original_onnx), bundle.spec,
                               bundle.tiers, name=backend)
    from fuse_trt.runtime.select import open_backend

    return open_backend(bundle, backend, precision)


def select_tiers(bundle: Bundle, short_edges: tuple[int, ...] | None) -> list[TierSpec]:
    if not short_edges:
        return list(bundle.tiers)
    by_edge = {tier.short_edge: tier for tier in bundle.tiers}
    missing = [edge for edge in short_edges if edge not in by_edge]
    if missing:
        raise FuseTrtError(f"tiers {missing} are not in the bundle; it has "
                           f"{sorted(by_edge)}")
    return [by_edge[edge] for edge in short_edges]


def reference_combination(combinations: list[Combination]) -> Combination | None:
    """The plain PyTorch path the ratios are against: FP16 on a GPU, else FP32."""
    for precision in ("fp16", "fp32"):
        if Combination("torch", precision) in combinations:
            return Combination("torch", precision)
    return None
