"""Result rows (one per backend x precision x tier), ratios against PyTorch, and the targets."""
from __future__ import annotations

from collections.abc import Mapping

from fuse_trt.bench.memory import backend_uses_gpu
from fuse_trt.bench.openvino_peer import PEER_RATIO_FIELDS
from fuse_trt.bench.plan import Combination
from fuse_trt.bench.stats import ratio, summarize

# The targets for this CPU: (name, backend, precision, row field, bound, "min"/"max").
TARGETS = (
    ("ORT FP32 >= 2x faster than PyTorch eager", "onnxruntime", "fp32", "speedup_vs_torch",
     2.0, "min"),
    ("ORT FP32 at least as fast as OpenVINO FP32 on the same graph", "onnxruntime", "fp32",
     "speedup_vs_openvino", 1.0, "min"),
    ("ORT FP32 at least as fast as OpenVINO FP32 on the original graph", "onnxruntime",
     "fp32", "speedup_vs_openvino_original", 1.0, "min"),
    ("ORT FP32 >= 80% of the GEMM rate", "onnxruntime", "fp32", "gemm_fraction", 0.8, "min"),
    ("ORT INT8 >= 2.5x faster than PyTorch eager", "onnxruntime", "int8", "speedup_vs_torch",
     2.5, "min"),
    ("ORT FP32 peak memory <= 0.6x PyTorch's", "onnxruntime", "fp32", "mem_ratio_vs_torch",
     0.6, "max"),
    ("ORT INT8 peak memory <= 0.6x PyTorch's", "onnxruntime", "int8", "mem_ratio_vs_torch",
     0.6, "max"),
)

STAT_FIELDS = ("median_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "min_ms", "max_ms",
               "std_ms", "cv", "iterations", "total_s", "throughput_per_s")


def _memory_for(memory: list[dict], combo: Combination, tier: str) -> dict | None:
    for run in memory:
        if (run["backend"], run["precision"], run["tier"]) == (combo.backend, combo.precision,
                                                              tier):
            return run
    return None


def _peak_mem(run: dict | None, combo: Combination) -> tuple[float | None, str]:
    if run is None:
        return None, "not measured"
    if backend_uses_gpu(combo.backend, combo.precision) and run.get("gpu_peak_growth_mib"):
        return run["gpu_peak_growth_mib"], "gpu mem_get_info growth (load + first inference)"
    return run["peak_rss_growth_mib"], "host peak RSS growth (fresh process, load + inference)"


def build_rows(combinations: list[Combination], tiers, batch: int,
               timings: Mapping, memory: list[dict], flops: Mapping[str, int],
               gemm_gflops: float, reference: Combination | None,
               e2e_frames: Mapping[str, dict],
               gates: Mapping[Combination, bool | None] | None = None) -> list[dict]:
    rows = []
    gates = gates or {}
    for combo in combinations:
        for tier in tiers:
            times = timings.get(("model", combo, tier.name))
            if not times:
                continue
            stats = summarize(times, batch).to_json()
            e2e_times = timings.get(("e2e", combo, tier.name))
            e2e = summarize(e2e_times, 1).to_json() if e2e_times else None
            if e2e is not None:
                e2e.update(e2e_frames.get(tier.name, {}))
            run = _memory_for(memory, combo, tier.name)
            peak, peak_source = _peak_mem(run, combo)
            gflops = flops[tier.name] / (stats["median_ms"] / 1000.0) / 1e9
            rows.append({
                "backend": combo.backend, "precision": combo.precision,
                "tier": tier.short_edge, "tier_name": tier.name,
                "accuracy_gate_passed": gates.get(combo),
                "input_shape": [batch, *tier.opt_shape], "batch": batch,
                **{name: stats[name] for name in STAT_FIELDS},
                "e2e": e2e, "e2e_median_ms": e2e["median_ms"] if e2e else None,
                "peak_mem_mib": peak, "peak_mem_source": peak_source,
                "backend_held_mib": run["backend_held_mib"] if run else None,
                "predicted_mib": run.get("predicted_mib") if run else None,
                "memory": run, "flops": flops[tier.name], "gflops": gflops,
                "gemm_gflops": gemm_gflops, "gemm_fraction": gflops / gemm_gflops})
    _add_ratios(rows, reference)
    _add_peer_ratios(rows)
    return rows


def _add_peer_ratios(rows: list[dict]) -> None:
    """``speedup_vs_openvino`` (same graph) and ``speedup_vs_openvino_original`` (original
    graph): that OpenVINO FP32 row's median over this row's, same tier; None without that row
    (the run's ``skipped`` says why, or no original graph was given)."""
    for peer_name, field in PEER_RATIO_FIELDS.items():
        peers = {row["tier"]: row for row in rows
                 if (row["backend"], row["precision"]) == (peer_name, "fp32")}
        for row in rows:
            peer = peers.get(row["tier"])
            row[field] = ratio(peer["median_ms"], row["median_ms"]) if peer else None


def _add_ratios(rows: list[dict], reference: Combination | None) -> None:
    refs = {row["tier"]: row for row in rows if reference is not None
            and (row["backend"], row["precision"]) == (reference.backend, reference.precision)}
    for row in rows:
        ref = refs.get(row["tier"])
        row["speedup_vs_torch"] = ratio(ref["median_ms"], row["median_ms"]) if ref else None
        row["e2e_speedup_vs_torch"] = ratio(ref["e2e_median_ms"], row["e2e_median_ms"]) \
            if ref else None
        row["mem_ratio_vs_torch"] = ratio(row["peak_mem_mib"], ref["peak_mem_mib"]) \
            if ref else None


def evaluate_targets(rows: list[dict], stability: list[dict]) -> list[dict]:
    """Each target that the rows can answer, per tier: the value, the bound and whether met."""
    checks = []
    for name, backend, precision, field, bound, kind in TARGETS:
        for row in rows:
            if (row["backend"], row["precision"]) != (backend, precision):
                continue
            value = row.get(field)
            met = None if value is None else (value >= bound if kind == "min" else value <= bound)
            checks.append({"target": name, "tier": row["tier"], "field": field,
                           "value": value, "bound": bound, "met": met,
                           "accuracy_gate_passed": row["accuracy_gate_passed"]})
    for run in stability:
        checks.append({"target": f"flat memory over {run['fusions']} fusions "
                                 f"({run['backend']}/{run['precision']})",
                       "tier": None, "field": "peak_drift_mib and trend_mib",
                       "value": None if run["flat"] is None
                       else max(run["peak_drift_mib"], run["trend_mib"]),
                       "bound": run["tolerance_mib"], "met": run["flat"]})
    return checks
