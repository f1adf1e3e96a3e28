"""``run_benchmark``: memory, interleaved latency, GEMM peak and stability in one run.

Order of a run: memory first (a fresh process per backend, precision and tier, while this
process holds no model), then every backend is opened once in this process and the model-only
and end-to-end cases of all (backend, precision, tier) are timed in interleaved rounds, with
the GEMM peak measured right before and after; the stability check last, again in a fresh
process per backend.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from fuse_trt.bench.flops import gemm_peak, onnx_flops
from fuse_trt.bench.machine import load_average, machine_info, versions
from fuse_trt.bench.memory import MemoryJob, measure_in_fresh_processes
from fuse_trt.bench.openvino_peer import PEERS, check_original_onnx
from fuse_trt.bench.plan import (Combination, open_bench_backend, plan_combinations,
                                 reference_combination, select_tiers)
from fuse_trt.bench.results import build_rows, evaluate_targets
from fuse_trt.bench.stability import StabilityJob, stability_in_fresh_process
from fuse_trt.bench.timing import TimedCase, TimingConfig, run_interleaved
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind, BackendName, Precision
from fuse_trt.models import default_bundle_dir

log = logging.getLogger("fuse_trt")

SCHEMA = "fuse-trt-bench/1"


@dataclass(frozen=True)
class BenchConfig:
    bundle: Path | None = None  # None: the default model shipped in the package
    backends: tuple[str, ...] | None = None  # None: every installed backend
    precisions: tuple[str, ...] | None = None  # None: every precision the bundle holds
    tiers: tuple[int, ...] | None = None  # short edges; None: every tier of the bundle
    batch: int = 1
    timing: TimingConfig = field(default_factory=TimingConfig)
    end_to_end: bool = True
    memory: bool = True
    memory_iterations: int = 3
    stability_fusions: int = 0  # 0: no stability check
    stability_phases: int = 10
    stability_tolerance_mib: float = 16.0
    gemm_size: int = 2048
    source_sample: str = "grace_hopper"
    target_sample: str = "astronaut"
    progress: bool = True
    # the graph before our export rewrites, with the bundle's I/O: adds an OpenVINO row on it
    openvino_original_onnx: Path | None = None


def run_benchmark(config: BenchConfig = BenchConfig()) -> dict:
    """Run the benchmark and return the report (the JSON object the CLI writes)."""
    bundle_dir = Path(config.bundle or default_bundle_dir()).resolve()
    bundle = Bundle.load(bundle_dir)
    original = config.openvino_original_onnx
    if original is not None:
        original = Path(original).resolve()  # the memory children may start elsewhere
        check_original_onnx(original, bundle.spec)
        config = replace(config, openvino_original_onnx=original)
    combinations, skipped = plan_combinations(bundle, config.backends, config.precisions,
                                              original)
    tiers = select_tiers(bundle, config.tiers)
    started = time.time()
    report = {"schema": SCHEMA, "created_unix": started, "machine": machine_info(),
              "versions": versions(), "bundle": _bundle_info(bundle),
              "config": _config_json(config), "skipped": skipped, "errors": []}
    onnx_path = bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32)
    flops = {tier.name: onnx_flops(onnx_path, bundle.spec,
                                   config.batch, *tier.opt_shape) for tier in tiers}
    memory = _memory_phase(bundle_dir, combinations, tiers, config, report["errors"]) \
        if config.memory else []
    report["machine"]["load_average_before_timing"] = load_average()
    timings, gemm_runs, e2e_frames = _timing_phase(bundle, combinations, tiers, config,
                                                     report["errors"])
    gemm = max(gemm_runs, key=lambda run: run.gflops)
    reference = reference_combination(combinations)
    report["gemm"] = {**gemm.to_json(), "runs_gflops": [run.gflops for run in gemm_runs]}
    report["flops_per_tier"] = flops
    report["reference"] = asdict(reference) if reference else None
    report["results"] = build_rows(combinations, tiers, config.batch, timings, memory, flops,
                                   gemm.gflops, reference, e2e_frames,
                                   _gate_results(bundle, combinations))
    report["memory_runs"] = memory
    report["stability"] = _stability_phase(bundle_dir, combinations, tiers, config,
                                           report["errors"]) \
        if config.stability_fusions > 0 else []
    report["targets"] = evaluate_targets(report["results"], report["stability"])
    report["machine"]["load_average_end"] = load_average()
    report["wall_s"] = time.time() - started
    return report


def _bundle_info(bundle: Bundle) -> dict:
    return {"directory": str(bundle.directory), "model": bundle.spec.name,
            "unet_config": bundle.manifest.unet_config,
            "artifacts": [{"file": a.file, "kind": a.kind, "precision": a.precision,
                           "backend": a.backend, "sha256": a.sha256, "details": a.details}
                          for a in bundle.manifest.artifacts]}


def _gate_results(bundle: Bundle, combinations: list[Combination]) -> dict:
    """Whether each reduced-precision artifact passed its accuracy gate, where recorded."""
    gates = {}
    for combo in combinations:
        kind = ArtifactKind.PLAN if combo.backend == BackendName.TENSORRT else ArtifactKind.ONNX
        found = [a for a in bundle.manifest.find(kind, combo.precision)
                 if isinstance(a.details.get("gate"), dict)]
        gates[combo] = found[-1].details["gate"].get("passed") if found else None
    return gates


def _config_json(config: BenchConfig) -> dict:
    data = asdict(config)
    data["bundle"] = str(config.bundle) if config.bundle else None
    original = config.openvino_original_onnx
    data["openvino_original_onnx"] = str(original) if original else None
    return data


# -- memory ------------------------------------------------------------------------------
def _memory_phase(bundle_dir: Path, combinations: list[Combination], tiers, config: BenchConfig,
                  errors: list) -> list[dict]:
    original = config.openvino_original_onnx
    jobs = [MemoryJob(str(bundle_dir), combo.backend, combo.precision, tier.name,
                      config.batch, config.memory_iterations,
                      str(original) if original else None)
            for combo in combinations for tier in tiers]
    results = []
    with tqdm(total=len(jobs), desc="memory (fresh process each)", disable=not config.progress,
              leave=False) as bar:
        for job in jobs:
            try:
                results.extend(measure_in_fresh_processes([job]))
            except Exception as error:  # one backend failing must not hide the others
                errors.append(_error("memory", job.backend, job.precision, error, job.tier))
            bar.update(1)
    return results


# -- latency -----------------------------------------------------------------------------
def _timing_phase(bundle: Bundle, combinations: list[Combination], tiers, config: BenchConfig,
                  errors: list):
    """Open every combination once, time all cases interleaved, GEMM peak before and after."""
    from fuse_trt.bench.workload import tier_frames

    frames = tier_frames(bundle.tiers, [t.name for t in tiers], config.target_sample) \
        if config.end_to_end else {}
    fusions: dict = {}
    try:
        cases = _open_cases(bundle, combinations, tiers, frames, config, fusions, errors)
        gemm_runs = [gemm_peak(config.gemm_size)]
        with tqdm(total=100, desc=f"latency ({len(cases)} cases, interleaved)",
                  disable=not config.progress, leave=False, bar_format="{l_bar}{bar}") as bar:
            def progress(fraction: float) -> None:
                bar.update(int(fraction * 100) - bar.n)

            timings = run_interleaved(cases, config.timing, progress)
        gemm_runs.append(gemm_peak(config.gemm_size))
    finally:
        for fusion in fusions.values():
            fusion.close()
    frame_info = {name: {"includes_detection": item.detected,
                         "frame_hw": list(item.frame.shape[:2])} for name, item in frames.items()}
    return timings, gemm_runs, frame_info


def _open_cases(bundle: Bundle, combinations: list[Combination], tiers, frames: dict,
                config: BenchConfig, fusions: dict, errors: list) -> list[TimedCase]:
    """A FaceFusion per combination (its backend serves the model-only cases too)."""
    from fuse_trt.engine.faces import load_sample

    source = load_sample(config.source_sample)
    cases = []
    for combo in combinations:
        try:
            fusion = _fusion(bundle, combo, config.openvino_original_onnx)
            fusions[combo] = fusion.prepare()
            if config.end_to_end:
                fusion.set_source(source)
        except Exception as error:  # recorded; the other combinations still run
            errors.append(_error("open", combo.backend, combo.precision, error))
            continue
        for tier in tiers:
            feed = fusion.backend.spec.example_feed(config.batch, *tier.opt_shape)
            cases.append(TimedCase(("model", combo, tier.name),
                                   _infer_call(fusion.backend, tier, feed)))
            if config.end_to_end:
                cases.append(TimedCase(("e2e", combo, tier.name),
                                       _fuse_call(fusion, frames[tier.name])))
    return cases


def _fusion(bundle: Bundle, combo: Combination, original_onnx: Path | None):
    """A FaceFusion for one combination; an OpenVINO peer is handed in as its backend."""
    from fuse_trt.api import FaceFusion, FusionConfig

    peer = combo.backend in PEERS
    config = FusionConfig(bundle=bundle.directory,
                          backend=BackendName.AUTO if peer else combo.backend,
                          precision=combo.precision, blend="unet", region="frame")
    backend = open_bench_backend(bundle, combo.backend, combo.precision,
                                 original_onnx).activate() if peer else None
    return FaceFusion(config, backend=backend)


def _infer_call(backend, tier, feed):
    return lambda: backend.infer(tier, feed)


def _fuse_call(fusion, item):
    return lambda: fusion.fuse(item.frame, faces=item.faces)


# -- stability ---------------------------------------------------------------------------
def _stability_phase(bundle_dir: Path, combinations: list[Combination], tiers,
                     config: BenchConfig, errors: list) -> list[dict]:
    """The stability check for every combination except the PyTorch reference and peers."""
    results = []
    for combo in combinations:
        if combo.backend in PEERS or (combo.backend == BackendName.TORCH
                                         and len(combinations) > 1):
            continue
        job = StabilityJob(str(bundle_dir), combo.backend, combo.precision,
                           tuple(t.name for t in tiers), config.stability_fusions,
                           config.stability_phases, tolerance_mib=config.stability_tolerance_mib,
                           source_sample=config.source_sample,
                           target_sample=config.target_sample, show_progress=config.progress)
        try:
            results.append(stability_in_fresh_process(job))
        except Exception as error:
            errors.append(_error("stability", combo.backend, combo.precision, error))
    return results


def _error(phase: str, backend: str, precision: str, error: Exception,
           tier: str | None = None) -> dict:
    message = f"{type(error).__name__}: {error}"
    log.warning("bench %s %s/%s%s failed: %s", phase, backend, precision,
                f" tier {tier}" if tier else "", message)
    return {"phase": phase, "backend": backend, "precision": precision, "tier": tier,
            "error": message}
