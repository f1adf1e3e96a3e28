"""ONNX Runtime session settings by measurement: CPU arena on/off x intra-op threads.

Every setting is one session in this process; per tier the settings run round by round in a
rotated order, so machine load hits them alike; medians and ratios to the project default
(OrtConfig()) are reported.

    python benchmarks/ort_session_settings.py --rounds 6
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind, Precision
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend, OrtConfig

DEFAULT = Path(__file__).resolve().parents[1] / "fuse_trt" / "models" / "default"
OUT = Path(__file__).resolve().parent / "cpu"
SETTINGS = {
    "default (OrtConfig())": OrtConfig(),
    "arena on": replace(OrtConfig(), enable_cpu_mem_arena=True),
    "arena on + mem pattern": replace(OrtConfig(), enable_cpu_mem_arena=True,
                                      enable_mem_pattern=True),
    "1 intra-op thread": replace(OrtConfig(), intra_op_threads=1),
    "2 intra-op threads": replace(OrtConfig(), intra_op_threads=2),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    bundle = Bundle.load(DEFAULT)
    path = bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32)
    backends = {name: OnnxRuntimeBackend(path, bundle.spec, bundle.tiers, config=config).activate()
                for name, config in SETTINGS.items()}
    names, rows = list(backends), []
    for tier in bundle.tiers:
        feed = bundle.spec.tier_example_feed(tier)
        times = {name: [] for name in names}
        for name in names:
            backends[name].infer(tier, feed)
        for index in range(args.rounds):
            for name in names[index % len(names):] + names[:index % len(names)]:
                start = time.perf_counter()
                backends[name].infer(tier, feed)
                times[name].append((time.perf_counter() - start) * 1000)
        rows.append({"tier": tier.name, "median_ms": {n: float(np.median(t))
                                                       for n, t in times.items()}})
    report = {"command": f"python benchmarks/ort_session_settings.py --rounds {args.rounds}",
              "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
              "settings": {name: asdict(config) for name, config in SETTINGS.items()},
              "rows": rows}
    OUT.mkdir(exist_ok=True)
    (OUT / "ort_session_settings.json").write_text(json.dumps(report, indent=2))
    (OUT / "ort_session_settings.md").write_text(_markdown(report, names))


def _markdown(report: dict, names: list[str]) -> str:
    base = names[0]
    lines = ["# ONNX Runtime session settings, interleaved in one process", "",
             f"- command: `{report['command']}`",
             f"- load average at end: {[round(x, 2) for x in report['load_average']]} "
             f"({report['cpu_count']} cores shared with other jobs: only ratios mean anything)",
             "", "| tier | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for row in report["rows"]:
        ms = row["median_ms"]
        lines.append(f"| {row['tier']} | " + " | ".join(
            f"{ms[n]:.0f} ms ({ms[base] / ms[n]:.2f}x)" for n in names) + " |")
    lines += ["", "Ratios are speed-ups over the first column (higher is faster)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
