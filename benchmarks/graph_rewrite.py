"""The exported graph before and after the exact rewrites (build_engine/graph_rewrite.py).

Per tier: the activation peak of each graph (the memory plan's estimator, engine/activations.py,
FP32, batch 1, graph I/O excluded), the
max abs difference of each graph's output from PyTorch's (FP32, the shipped weights) with the
spec's tolerance check, and of the rewritten graph's from the original's, peak RSS growth of an
ONNX Runtime session (project OrtConfig defaults) in a fresh process per graph and tier, and
latency of the original graph, the rewritten one and PyTorch eager, interleaved round by round
in one process (fuse-trt bench's balanced order), so machine load hits all three alike.

    git show a02b342^:fuse_trt/models/default/model.onnx > original.onnx  # before the rewrites
    python benchmarks/graph_rewrite.py --original original.onnx \
        --rewritten fuse_trt/models/default/model.onnx
"""
from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import onnx

from fuse_trt.bench.memory import MIB, peak_rss_bytes, reset_peak_rss, rss_bytes
from fuse_trt.bench.timing import balanced_order
from fuse_trt.engine.activations import ActivationEstimator
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import Precision
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend

DEFAULT = Path(__file__).resolve().parents[1] / "fuse_trt" / "models" / "default"
OUT = Path(__file__).resolve().parent / "graph"


def _rss_child(onnx_path: str, edge: int) -> float:
    bundle = Bundle.load(DEFAULT)
    tier = next(t for t in bundle.tiers if t.opt_shape == (edge, edge))
    feed = bundle.spec.tier_example_feed(tier)
    reset_peak_rss()
    baseline = rss_bytes()
    with OnnxRuntimeBackend(Path(onnx_path), bundle.spec, bundle.tiers) as backend:
        for _ in range(3):
            backend.infer(tier, feed)
        return (peak_rss_bytes() - baseline) / MIB


def _fresh_rss(onnx_path: Path, edge: int) -> float:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        return pool.submit(_rss_child, str(onnx_path), edge).result()


def _interleaved(cases: dict, tier, feed, rounds: int) -> dict[str, float]:
    times = {name: [] for name in cases}
    names = list(cases)
    for name in names:
        cases[name](tier, feed)  # warm-up
    for index in range(rounds):
        for name in (names[position] for position in balanced_order(len(names), index)):
            start = time.perf_counter()
            cases[name](tier, feed)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: float(np.median(values)) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rewritten", type=Path, required=True)
    parser.add_argument("--original", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    from fuse_trt.runtime.select import open_backend

    bundle = Bundle.load(DEFAULT)
    estimators = {name: ActivationEstimator(onnx.load(str(path)), bundle.spec)
                  for name, path in (("original", args.original), ("rewritten", args.rewritten))}
    with OnnxRuntimeBackend(args.original, bundle.spec, bundle.tiers) as original, \
            OnnxRuntimeBackend(args.rewritten, bundle.spec, bundle.tiers) as rewritten, \
            open_backend(bundle, "torch", Precision.FP32).activate() as torch_backend:
        cases = {"ort original": original.infer, "ort rewritten": rewritten.infer,
                 "torch": torch_backend.infer}
        rows = []
        for tier in bundle.tiers:
            feed = bundle.spec.tier_example_feed(tier)
            outputs = {name: cases[name](tier, feed)["fused"] for name in cases}
            reference = outputs["torch"]
            difference = np.abs(outputs["ort original"] - outputs["ort rewritten"]).max()
            rows.append({"tier": tier.name, "max_abs_diff": float(difference),
                         "vs_torch": {name: {
                             "max_abs_diff": float(np.abs(outputs[f"ort {name}"]
                                                          - reference).max()),
                             "within_spec": bool(np.allclose(
                                 outputs[f"ort {name}"], reference, atol=bundle.spec.atol,
                                 rtol=bundle.spec.rtol))} for name in ("original", "rewritten")},
                         "activation_peak_mib": {
                             name: estimator.peak(1, *tier.opt_shape, 4).bytes / MIB
                             for name, estimator in estimators.items()},
                         "median_ms": _interleaved(cases, tier, feed, args.rounds)})
    for row, tier in zip(rows, bundle.tiers):
        row["ort_peak_rss_growth_mib"] = {name: _fresh_rss(path, tier.opt_shape[0]) for name, path
                                          in (("original", args.original),
                                              ("rewritten", args.rewritten))}
    report = {"command": f"python benchmarks/graph_rewrite.py --original {args.original} "
                         f"--rewritten {args.rewritten} --rounds {args.rounds}",
              "tolerance": {"atol": bundle.spec.atol, "rtol": bundle.spec.rtol},
              "load_average": os.getloadavg(), "rows": rows}
    OUT.mkdir(exist_ok=True)
    (OUT / "graph_rewrite.json").write_text(json.dumps(report, indent=2))
    (OUT / "graph_rewrite.md").write_text(_markdown(report))


def _markdown(report: dict) -> str:
    lines = ["# Exported graph before and after the exact rewrites", "",
             f"- command: `{report['command']}`",
             f"- load average at end: {[round(x, 2) for x in report['load_average']]} "
             "(2 cores shared with other jobs: only the ratios mean anything)",
             f"- vs PyTorch: max abs difference of `fused`, and whether it is within the spec's "
             f"tolerance (atol {report['tolerance']['atol']}, rtol {report['tolerance']['rtol']})",
             "- activation peak: FP32, batch 1, each tier's opt shape", "",
             "| tier | activation peak MiB (estimate) before / after | ORT peak RSS growth MiB "
             "before / after | ORT ms before / after | after speed-up | after vs torch | "
             "vs torch before / after | after vs before |",
             "|---|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        peak, rss, ms = (row["activation_peak_mib"], row["ort_peak_rss_growth_mib"],
                         row["median_ms"])
        torch_diff = " / ".join(f"{row['vs_torch'][name]['max_abs_diff']:.2g}"
                                f"{'' if row['vs_torch'][name]['within_spec'] else ' (FAIL)'}"
                                for name in ("original", "rewritten"))
        lines.append(
            f"| {row['tier']} | {peak['original']:.0f} / {peak['rewritten']:.0f} | "
            f"{rss['original']:.0f} / {rss['rewritten']:.0f} | {ms['ort original']:.0f} / "
            f"{ms['ort rewritten']:.0f} | {ms['ort original'] / ms['ort rewritten']:.2f}x | "
            f"{ms['torch'] / ms['ort rewritten']:.2f}x | {torch_diff} | "
            f"{row['max_abs_diff']:.2g} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
