"""The stability check: N consecutive fusions cycling through all tiers, memory after each phase.

Runs in a fresh process per (backend, precision). A warm-up phase (two passes over every
tier) comes first; the N fusions after it are split into phases, each a whole number of tier
cycles, and the RSS (and device memory on a GPU) is read after each. The line is flat when
neither the per-phase peak RSS nor the trend of the end-of-phase RSS grows by more than
``tolerance_mib`` (see :func:`flat_verdict`).
"""
from __future__ import annotations

import gc
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

from fuse_trt.bench.memory import (MIB, backend_uses_gpu, gpu_mem_info, peak_rss_bytes,
                                   reset_peak_rss, rss_bytes)


@dataclass(frozen=True)
class StabilityJob:
    bundle_dir: str
    backend: str
    precision: str
    tiers: tuple[str, ...]
    fusions: int = 1000
    phases: int = 10
    warmup_cycles: int = 2
    tolerance_mib: float = 16.0
    source_sample: str = "grace_hopper"
    target_sample: str = "astronaut"
    show_progress: bool = True


def phase_sizes(fusions: int, phases: int, cycle: int) -> list[int]:
    """Split ``fusions`` into at most ``phases`` chunks of whole ``cycle``s (the last may be
    partial when ``fusions`` is not a multiple of ``cycle``)."""
    if fusions <= 0:
        return []
    cycles = -(-fusions // cycle)
    per_phase = max(1, -(-cycles // max(phases, 1))) * cycle
    sizes = []
    remaining = fusions
    while remaining > 0:
        sizes.append(min(per_phase, remaining))
        remaining -= sizes[-1]
    return sizes


def trend_mib(fusions_done: list[int], readings_mib: list[float]) -> float:
    """Least-squares slope of the readings over the fusions, times the fusions spanned."""
    count = len(readings_mib)
    if count < 2 or fusions_done[-1] == fusions_done[0]:
        return 0.0
    mean_x = sum(fusions_done) / count
    mean_y = sum(readings_mib) / count
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(fusions_done, readings_mib))
    variance = sum((x - mean_x) ** 2 for x in fusions_done)
    return covariance / variance * (fusions_done[-1] - fusions_done[0])


def flat_verdict(fusions_done: list[int], readings_mib: list[float], peaks_mib: list[float],
                 tolerance_mib: float) -> dict:
    """Flat: neither the per-phase peak RSS rises nor the end-of-phase RSS trends upwards by
    more than ``tolerance_mib`` over the post-warm-up phases. A leak does both; allocator
    noise (freed memory the heap keeps or returns) moves single readings, not the trend."""
    if not readings_mib:
        return {"flat": None, "max_drift_mib": None, "peak_drift_mib": None, "trend_mib": None}
    drifts = [reading - readings_mib[0] for reading in readings_mib]
    peak_drift = max(peaks_mib) - peaks_mib[0]
    trend = trend_mib(fusions_done, readings_mib)
    return {"flat": peak_drift <= tolerance_mib and trend <= tolerance_mib,
            "max_drift_mib": max(drifts, key=abs), "peak_drift_mib": peak_drift,
            "trend_mib": trend}


def run_stability(job: StabilityJob) -> dict:
    """Run the job in this process (call it through :func:`stability_in_fresh_process`)."""
    from tqdm import tqdm

    from fuse_trt.api import FaceFusion, FusionConfig
    from fuse_trt.bench.workload import tier_frames
    from fuse_trt.engine.faces import load_sample

    config = FusionConfig(bundle=Path(job.bundle_dir), backend=job.backend,
                          precision=job.precision, blend="unet", region="frame")
    on_gpu = backend_uses_gpu(job.backend, job.precision)
    start_rss = rss_bytes()
    with FaceFusion(config) as fusion:
        frames = tier_frames(fusion.bundle.tiers, list(job.tiers), job.target_sample,
                             fusion.detector)
        cycle = [frames[name] for name in job.tiers]
        fusion.set_source(load_sample(job.source_sample))

        def fuse(index: int) -> None:
            item = cycle[index % len(cycle)]
            fusion.fuse(item.frame, faces=item.faces)

        for index in range(job.warmup_cycles * len(cycle)):
            fuse(index)
        gc.collect()
        phases = [_reading("warm-up", job.warmup_cycles * len(cycle), on_gpu, 0.0)]
        reset_peak_rss()
        sizes = phase_sizes(job.fusions, job.phases, len(cycle))
        done = 0
        with tqdm(total=job.fusions, desc=f"stability {job.backend}/{job.precision}",
                  disable=not job.show_progress, leave=False) as bar:
            for number, size in enumerate(sizes, 1):
                started = time.perf_counter()
                for _ in range(size):
                    fuse(done)
                    done += 1
                    bar.update(1)
                phases.append(_reading(f"phase {number}", done, on_gpu,
                                       time.perf_counter() - started))
                reset_peak_rss()
    measured = phases[1:]
    done_counts = [phase["fusions_done"] for phase in measured]
    verdict = flat_verdict(done_counts, [p["rss_mib"] for p in measured],
                           [p["peak_rss_mib"] for p in measured], job.tolerance_mib)
    result = {**asdict(job), "start_rss_mib": start_rss / MIB, "phases": phases, **verdict}
    gpu_readings = [p["gpu_used_mib"] for p in measured if p["gpu_used_mib"] is not None]
    if gpu_readings:
        gpu_verdict = flat_verdict(done_counts, gpu_readings, gpu_readings, job.tolerance_mib)
        result["gpu_flat"] = gpu_verdict["flat"]
        result["gpu_max_drift_mib"] = gpu_verdict["max_drift_mib"]
        result["flat"] = bool(result["flat"] and gpu_verdict["flat"])
    return result


def _reading(label: str, fusions_done: int, on_gpu: bool, seconds: float) -> dict:
    info = gpu_mem_info() if on_gpu else None
    return {"phase": label, "fusions_done": fusions_done, "rss_mib": rss_bytes() / MIB,
            "peak_rss_mib": peak_rss_bytes() / MIB,
            "gpu_used_mib": (info[1] - info[0]) / MIB if info else None,
            "seconds": seconds}


def stability_in_fresh_process(job: StabilityJob) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"),
                             max_tasks_per_child=1) as pool:
        return pool.submit(run_stability, job).result()
