"""ONNX Runtime session and process settings by measurement: arena, memory pattern, intra-op
threads and spinning, OpenCV's thread count, fixed tier shapes and the shared arena.

Speed: every setting is one session in this process, each with its own FaceFusion for the
end-to-end case (fuse of the stream benchmark's 1280x720 frame, one face, default settings
otherwise); per tier the settings run round by round in a balanced order (each setting
follows each other one equally often), each timed call right after an untimed one of the
same setting (as `fuse-trt bench` slices), so machine load hits them alike and no setting's
spinning workers slow the next; medians and ratios to the first setting are reported. The
OpenCV thread count is process-wide, so it is set before each call of the setting that
names it.

Memory: a fresh process per (setting, tier) and for PyTorch eager per tier: peak RSS growth
over the baseline across load, activation and four inferences (the same measure as
`fuse-trt bench`), and its ratio to PyTorch's. One more fresh process per setting runs every
tier in turn, twice each, as a camera loop whose faces change tier does; its peak is compared
with PyTorch's at the largest tier.

    python benchmarks/ort_session_settings.py --rounds 5              # --set arena
    python benchmarks/ort_session_settings.py --rounds 5 --set first  # the first sweep
    python benchmarks/ort_session_settings.py --rounds 5 --set tier   # tier sessions
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from fuse_trt.bench.timing import TimedCase, TimingConfig, run_interleaved
from fuse_trt.runtime.onnxruntime_backend import OrtConfig

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent / "fuse_trt" / "models" / "default"
OUT = HERE / "cpu"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Setting:
    ort: OrtConfig = field(default_factory=OrtConfig)
    cv2_threads: int | None = None  # None: OpenCV's default


def _config(arena: bool, pattern: bool = False, spinning: bool = True,
            threads: int = 0) -> OrtConfig:
    return OrtConfig(enable_cpu_mem_arena=arena, enable_mem_pattern=pattern,
                     allow_spinning=spinning, intra_op_threads=threads)


# --set first (benchmarks/cpu/ort_session_settings.first.md): arena, memory pattern, spinning,
# threads, OpenCV's pool. It ruled out the memory pattern (peak 1.09-1.17x PyTorch's) and
# arena off (slower at every tier); --set arena decides spinning, threads and OpenCV's pool
# around the arena.
FIRST = {
    "arena off (old default)": Setting(_config(arena=False)),
    "arena off, no spinning": Setting(_config(arena=False, spinning=False)),
    "mem pattern, arena off": Setting(_config(arena=False, pattern=True)),
    "arena on": Setting(_config(arena=True)),
    "arena + mem pattern": Setting(_config(arena=True, pattern=True)),
    "arena + pattern, no spinning": Setting(_config(arena=True, pattern=True, spinning=False)),
    "arena + pattern, 1 thread": Setting(_config(arena=True, pattern=True, threads=1)),
    "arena + pattern, cv2 1 thread": Setting(_config(arena=True, pattern=True), cv2_threads=1),
}
ARENA = {
    "arena off (old default)": Setting(_config(arena=False)),
    "arena on": Setting(_config(arena=True)),
    "arena on, no spinning": Setting(_config(arena=True, spinning=False)),
    "arena on, 1 thread": Setting(_config(arena=True, threads=1)),
    "arena on, no spinning, cv2 1 thread": Setting(_config(arena=True, spinning=False),
                                                   cv2_threads=1),
}
TIER = {
    "symbolic dims, own arenas": Setting(OrtConfig(fixed_tier_shapes=False, shared_arena=False)),
    "symbolic dims, own arenas, no reuse": Setting(OrtConfig(
        fixed_tier_shapes=False, shared_arena=False, enable_mem_reuse=False)),
    "fixed dims, own arenas": Setting(OrtConfig(shared_arena=False)),
    "fixed dims, shared arena": Setting(OrtConfig()),
    "fixed dims, shared arena, no reuse": Setting(OrtConfig(enable_mem_reuse=False)),
}
SETS = {"first": FIRST, "arena": ARENA, "tier": TIER}
SWITCH = "+"  # joins the tiers of the run that switches between them


# -- memory, in a fresh process ----------------------------------------------------------
def _peak_child(setting: Setting, tier_name: str) -> dict:
    """Peak RSS growth of one ORT setting at one tier, or at several joined by SWITCH in
    turn, twice each (run in a spawned process)."""
    from fuse_trt.bench.memory import peak_rss_bytes, reset_peak_rss, rss_bytes
    from fuse_trt.engine.bundle import Bundle
    from fuse_trt.engine.choices import ArtifactKind, Precision
    from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend

    bundle = Bundle.load(DEFAULT)
    tiers = [bundle.tiers.by_name(name) for name in tier_name.split(SWITCH)]
    feeds = [(tier, bundle.spec.tier_example_feed(tier)) for tier in tiers]
    reset_peak_rss()
    baseline = rss_bytes()
    backend = OnnxRuntimeBackend(bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32),
                                 bundle.spec, bundle.tiers,
                                 config=setting.ort).activate()
    for tier, feed in feeds * (4 if len(feeds) == 1 else 2):
        backend.infer(tier, feed)
    peak = peak_rss_bytes()
    backend.close()
    return {"tier": tier_name, "peak_rss_growth_mib": (peak - baseline) / MIB}


def _fresh(function, *args) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"),
                             max_tasks_per_child=1) as pool:
        return pool.submit(function, *args).result()


def memory_phase(settings: dict[str, Setting], tiers: list[str]) -> dict:
    from fuse_trt.bench.memory import MemoryJob, measure_in_fresh_processes

    torch = {run["tier"]: run["peak_rss_growth_mib"] for run in measure_in_fresh_processes(
        [MemoryJob(str(DEFAULT), "torch", "fp32", tier, iterations=4) for tier in tiers])}
    switch = SWITCH.join(tiers)
    torch[switch] = max(torch.values())
    peaks = {name: {tier: _fresh(_peak_child, setting, tier)["peak_rss_growth_mib"]
                    for tier in (*tiers, switch)} for name, setting in settings.items()}
    return {"torch_mib": torch, "ort_mib": peaks}


# -- speed, interleaved in this process --------------------------------------------------
def _open(settings: dict[str, Setting], bundle, frame: np.ndarray):
    from fuse_trt.api import FaceFusion, FusionConfig
    from fuse_trt.engine.choices import ArtifactKind, Precision
    from fuse_trt.engine.faces import load_sample
    from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend

    path = bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32)
    fusions = {}
    for name, setting in settings.items():
        backend = OnnxRuntimeBackend(path, bundle.spec, bundle.tiers, config=setting.ort)
        fusion = FaceFusion(FusionConfig(), backend=backend.activate())
        fusion.set_source(load_sample("grace_hopper"))
        fusion.fuse(frame)
        fusions[name] = fusion
    return fusions


def _infer_case(bundle, tier_name: str):
    tier = bundle.tiers.by_name(tier_name)
    feed = bundle.spec.tier_example_feed(tier)
    return lambda fusion: fusion.backend.infer(tier, feed)


def _setting_case(name: str, setting: Setting, fusion, run) -> TimedCase:
    def once():
        import cv2

        cv2.setNumThreads(setting.cv2_threads if setting.cv2_threads is not None else -1)
        run(fusion)

    return TimedCase(name, once)


def speed_phase(settings: dict[str, Setting], rounds: int, tiers: list[str]) -> dict:
    from fuse_trt.engine.bundle import Bundle

    sys.path.insert(0, str(HERE))
    from fuse_profile import stream_frame

    bundle = Bundle.load(DEFAULT)
    frame = stream_frame()
    fusions = _open(settings, bundle, frame)
    names = list(settings)
    cases = {tier: _infer_case(bundle, tier) for tier in tiers}
    cases["fuse 1280x720"] = lambda fusion: fusion.fuse(frame)
    # one untimed call per setting first (the arena grows on it), then `rounds` slices of
    # one timed call each, every slice opened by untimed ones as in `fuse-trt bench`
    timing = TimingConfig(warmup_ms=0.0, duration_s=0.0, min_iters=rounds, slice_ms=1e-9)
    medians = {}
    for case, run in cases.items():
        times = run_interleaved([_setting_case(name, settings[name], fusions[name], run)
                                 for name in names], timing)
        medians[case] = {name: float(np.median(values)) for name, values in times.items()}
    for fusion in fusions.values():
        fusion.close()
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--tiers", default="512,768,1024")
    parser.add_argument("--set", default="arena", choices=sorted(SETS))
    args = parser.parse_args()
    settings = SETS[args.set]
    tiers = args.tiers.split(",")
    load_start = [round(v, 2) for v in os.getloadavg()]
    memory = memory_phase(settings, tiers)
    speed = speed_phase(settings, args.rounds, tiers)
    report = {"command": "python benchmarks/ort_session_settings.py " + " ".join(
                  f"--{k} {v}" for k, v in vars(args).items()),
              "cpu_count": os.cpu_count(), "load_average_start": load_start,
              "load_average_end": [round(v, 2) for v in os.getloadavg()],
              "settings": {name: {**asdict(s.ort), "cv2_threads": s.cv2_threads}
                           for name, s in settings.items()},
              "median_ms": speed, **memory}
    OUT.mkdir(exist_ok=True)
    stem = "ort_session_settings" + ("" if args.set == "arena" else f".{args.set}")
    (OUT / f"{stem}.json").write_text(json.dumps(report, indent=2))
    text = _markdown(report)
    (OUT / f"{stem}.md").write_text(text)
    print(text)


def _markdown(report: dict) -> str:
    names = list(report["settings"])
    base = names[0]
    lines = ["# ONNX Runtime session and process settings", "",
             f"- command: `{report['command']}`",
             f"- load average at start {report['load_average_start']}, at end "
             f"{report['load_average_end']} ({report['cpu_count']} cores; on a shared machine "
             "only the ratios mean anything)",
             "- speed: median ms (speed-up over the first column, higher is faster), all "
             "settings interleaved in one process; `fuse 1280x720` is FaceFusion.fuse of the "
             "stream benchmark's frame (one face, 512 tier)",
             "- peak: peak RSS growth in MiB, fresh process per setting and tier (ratio to "
             "PyTorch eager's; the target is <= 0.6x); `a+b+c` runs those tiers in turn in "
             "one process", "",
             "| case | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for case, ms in report["median_ms"].items():
        lines.append(f"| {case} | " + " | ".join(
            f"{ms[n]:.0f} ({ms[base] / ms[n]:.2f}x)" for n in names) + " |")
    for tier, torch in report["torch_mib"].items():
        torch_label = f"torch at its largest tier {torch:.0f}" if SWITCH in tier else \
            f"torch {torch:.0f}"
        lines.append(f"| peak {tier} ({torch_label}) | " + " | ".join(
            f"{report['ort_mib'][n][tier]:.0f} ({report['ort_mib'][n][tier] / torch:.2f}x)"
            for n in names) + " |")
    settings = report["settings"]
    lines += ["", "Settings: " + "; ".join(
        f"**{n}**: " + ", ".join(f"{k}={v}" for k, v in s.items() if k != "providers")
        for n, s in settings.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
