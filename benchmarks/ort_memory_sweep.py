"""Which ONNX Runtime settings keep peak memory low, and what they cost in speed.

Each (setting, tier) runs in a fresh process (spawn): baseline RSS after imports, the kernel's
high-water mark reset, then load + activate + one warm-up + ``--iters`` timed inferences of the
default model at the tier's short edge. Process-level allocator settings (glibc environment
variables) are passed to the child's environment, which glibc reads at start-up. PyTorch eager
is measured the same way, with and without the same allocator environment, so a setting is
never credited to ONNX Runtime that would help PyTorch as much.

    python benchmarks/ort_memory_sweep.py            # writes benchmarks/cpu/ort_settings.{json,md}
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

HERE = Path(__file__).resolve().parent
MMAP_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}
THP_ENV = {**MMAP_ENV, "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}


@dataclass(frozen=True)
class Setting:
    name: str
    backend: str = "onnxruntime"
    ort: dict = field(default_factory=dict)  # OrtConfig fields
    session_entries: dict = field(default_factory=dict)  # SessionOptions config entries
    env: dict = field(default_factory=dict)  # process environment (glibc malloc)


SETTINGS = (
    Setting("ORT OrtConfig defaults (arena off, mem pattern off, ORT_ENABLE_ALL)"),
    Setting("ORT arena on, mem pattern off", ort={"enable_cpu_mem_arena": True}),
    Setting("ORT arena on + mem pattern on (ORT's own defaults)",
            ort={"enable_cpu_mem_arena": True, "enable_mem_pattern": True}),
    Setting("ORT ORT_ENABLE_EXTENDED (no NCHWc layout)",
            ort={"graph_optimization": "ORT_ENABLE_EXTENDED"}),
    Setting("ORT use_device_allocator_for_initializers",
            session_entries={"session.use_device_allocator_for_initializers": "1"}),
    Setting("ORT 1 intra-op thread", ort={"intra_op_threads": 1}),
    Setting("ORT defaults + MALLOC_MMAP_THRESHOLD_=65536", env=MMAP_ENV),
    Setting("ORT defaults + MALLOC_MMAP_THRESHOLD_ + THP (glibc.malloc.hugetlb=1)", env=THP_ENV),
    Setting("PyTorch eager", backend="torch"),
    Setting("PyTorch eager + MALLOC_MMAP_THRESHOLD_ + THP", backend="torch", env=THP_ENV),
)


def measure(setting: Setting, bundle_dir: str, tier_name: str, iters: int) -> dict:
    """Run in a fresh process: peak RSS growth over load + inference, and median latency."""
    import gc

    from fuse_trt.bench.memory import MIB, peak_rss_bytes, reset_peak_rss, rss_bytes
    from fuse_trt.engine.bundle import Bundle

    bundle = Bundle.load(Path(bundle_dir))
    tier = bundle.tiers.by_name(tier_name)
    feed = bundle.spec.example_feed(1, *tier.opt_shape)
    backend = _make_backend(setting, bundle)
    gc.collect()
    reset_peak_rss()
    baseline = rss_bytes()
    backend.activate()
    loaded = rss_bytes()
    times = []
    for _ in range(iters + 1):
        start = time.perf_counter()
        backend.infer(tier, feed)
        times.append((time.perf_counter() - start) * 1000.0)
    timed = sorted(times[1:])
    result = {"setting": setting.name, "tier": tier.short_edge,
              "load_mib": (loaded - baseline) / MIB,
              "peak_rss_growth_mib": (peak_rss_bytes() - baseline) / MIB,
              "steady_rss_growth_mib": (rss_bytes() - baseline) / MIB,
              "first_ms": times[0], "median_ms": timed[len(timed) // 2], "iters": iters}
    backend.close()
    return result


def _make_backend(setting: Setting, bundle):
    if setting.backend == "torch":
        import torch  # noqa: F401  imported before the baseline, like the library's code

        from fuse_trt.runtime.select import open_backend

        return open_backend(bundle, "torch", "fp32")
    import onnxruntime  # noqa: F401

    from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend, OrtConfig

    entries = setting.session_entries

    class SweepBackend(OnnxRuntimeBackend):
        def _session_options(self):
            options = super()._session_options()
            for key, value in entries.items():
                options.add_session_config_entry(key, value)
            return options

    return SweepBackend(bundle.artifact_path("onnx", "fp32"), bundle.spec, bundle.tiers,
                        config=OrtConfig(**setting.ort))


def run_in_child(setting: Setting, bundle_dir: str, tier_name: str, iters: int) -> dict:
    saved = dict(os.environ)
    os.environ.update(setting.env)  # the spawned interpreter starts with this environment
    try:
        with ProcessPoolExecutor(1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
            result = pool.submit(measure, setting, bundle_dir, tier_name, iters).result()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {**result, "env": setting.env, "ort": setting.ort,
            "session_entries": setting.session_entries}


def to_markdown(data: dict) -> str:
    tiers = data["tiers"]
    lines = ["# ONNX Runtime memory settings sweep (default model, batch 1)", "",
             f"Load average at start {data['load_start']}, at end {data['load_end']}; "
             f"latency is the median of {data['iters']} runs after one warm-up "
             "(indicative only on a shared machine; the memory figures are not load-sensitive).",
             "", "| setting | " + " | ".join(f"{t}: peak MiB / ms" for t in tiers) + " |",
             "|---|" + "---|" * len(tiers)]
    for name in dict.fromkeys(r["setting"] for r in data["results"]):
        cells = []
        for tier in tiers:
            row = next(r for r in data["results"] if r["setting"] == name and r["tier"] == tier)
            cells.append(f"{row['peak_rss_growth_mib']:.0f} / {row['median_ms']:.0f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    from fuse_trt.models import default_bundle_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=str(default_bundle_dir()))
    parser.add_argument("--tiers", default="512,768,1024")
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "cpu" / "ort_settings"))
    args = parser.parse_args(argv)
    tiers = [int(t) for t in args.tiers.split(",")]
    data = {"command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
            "bundle": args.bundle, "tiers": tiers, "iters": args.iters,
            "load_start": [round(v, 2) for v in os.getloadavg()], "results": []}
    for setting in SETTINGS:
        for tier in tiers:
            row = run_in_child(setting, args.bundle, str(tier), args.iters)
            print(f"{setting.name} @ {tier}: peak {row['peak_rss_growth_mib']:.0f} MiB, "
                  f"{row['median_ms']:.0f} ms", flush=True)
            data["results"].append(row)
    data["load_end"] = [round(v, 2) for v in os.getloadavg()]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    out.with_suffix(".md").write_text(to_markdown(data))


if __name__ == "__main__":
    main()
