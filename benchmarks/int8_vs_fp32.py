"""INT8 (ONNX Runtime QDQ: all ops, Conv only, all ops with --keep-fp) vs FP32 on this CPU.

Per tier (opt shape, batch 1): median latency of every variant, measured side by side in one
process (rounds interleave the variants, so load from other processes hits them alike), and
the accuracy gate on held-out images (PSNR of the face region, max |diff|, residual ratio).

    python benchmarks/int8_vs_fp32.py [--bundle DIR] [--runs 7] [--calibration-size 24]

Writes benchmarks/int8_vs_fp32.json and .md. Rerun it whenever the default model's weights
change: with the initial weights (zero-initialised heads) the FP32 model returns its input,
so the residual ratio is undefined and Conv-only INT8 is exact by construction.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import onnx
import onnxruntime

from fuse_trt.calibration.cache import cached_samples
from fuse_trt.calibration.dataset import CalibrationConfig
from fuse_trt.calibration.gate import GateConfig, GateReport
from fuse_trt.calibration.ort_int8 import gate_onnx, single_batch
from fuse_trt.calibration.quantize import QuantizeConfig, edge_conv_names, quantize_qdq
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.tiers import TierTable
from fuse_trt.models import default_bundle_dir
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Variant:
    name: str
    path: Path
    quantize: QuantizeConfig | None  # None: the FP32 model itself


def make_variants(bundle: Bundle, samples, work_dir: Path) -> list[Variant]:
    """FP32 and the INT8 variants; quantized files in ``work_dir`` are reused when present."""
    fp32 = bundle.artifact_path("onnx", "fp32")
    configs = {"int8-all": QuantizeConfig(op_types=None),
               "int8-conv": QuantizeConfig(op_types=("Conv",)),
               "int8-all-keep-edges": QuantizeConfig(op_types=None,
                                                     keep_fp=tuple(edge_conv_names(fp32)))}
    sha = bundle.manifest.find("onnx", "fp32")[-1].sha256[:12]
    variants = [Variant("fp32", fp32, None)]
    for name, config in configs.items():
        path = work_dir / f"{name}-{sha}.onnx"
        if not path.is_file():
            started = time.perf_counter()
            quantize_qdq(fp32, path, samples(), bundle.spec.input_names, config)
            print(f"quantized {name} in {time.perf_counter() - started:.1f} s")
        variants.append(Variant(name, path, config))
    return variants


def ort_kernels(path: Path) -> dict[str, int]:
    """What ONNX Runtime actually runs: convolutions in INT8 vs float, leftover Q/DQ nodes."""
    with tempfile.TemporaryDirectory() as scratch:
        options = onnxruntime.SessionOptions()
        options.optimized_model_filepath = str(Path(scratch) / "optimized.onnx")
        options.log_severity_level = 3
        onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        nodes = onnx.load(options.optimized_model_filepath).graph.node
    counts = Counter(node.op_type for node in nodes)
    return {op: counts[op] for op in ("QLinearConv", "Conv", "QuantizeLinear", "DequantizeLinear")}


def time_tier(bundle: Bundle, variants: list[Variant], tier, runs: int, warmup: int) -> dict:
    """Median ms per variant at the tier's opt shape, batch 1, rounds interleaved."""
    feed = bundle.spec.example_feed(1, *tier.opt_shape, seed=0)
    only_tier = single_batch(TierTable((tier,), bundle.tiers.stride))
    backends = {v.name: OnnxRuntimeBackend(v.path, bundle.spec, only_tier,
                                           "int8" if v.quantize else "fp32").activate()
                for v in variants}
    times: dict[str, list[float]] = {name: [] for name in backends}
    try:
        for round_index in range(warmup + runs):
            for name, backend in backends.items():
                started = time.perf_counter()
                backend.infer(tier, feed)
                if round_index >= warmup:
                    times[name].append((time.perf_counter() - started) * 1e3)
    finally:
        for backend in backends.values():
            backend.close()
    return {name: {"median_ms": round(statistics.median(values), 1),
                   "min_ms": round(min(values), 1)} for name, values in times.items()}


def accuracy(bundle: Bundle, variant: Variant, held_out, gate: GateConfig) -> GateReport:
    fp32 = bundle.artifact_path("onnx", "fp32")
    return gate_onnx(fp32, variant.path, bundle.spec, bundle.tiers, held_out, gate)


def measure(args) -> dict:
    bundle = Bundle.load(args.bundle)
    config = CalibrationConfig(size=args.calibration_size, seed=args.seed)
    held_out = cached_samples(args.calibration_dir, bundle.spec, bundle.tiers, config, "held_out")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    variants = make_variants(bundle, lambda: cached_samples(
        args.calibration_dir, bundle.spec, bundle.tiers, config), args.work_dir)
    gates = {v.name: accuracy(bundle, v, held_out, GateConfig()).to_json() for v in variants[1:]}
    timings = {tier.name: time_tier(bundle, variants, tier, args.runs, args.warmup)
               for tier in bundle.tiers}
    described = {v.name: {**(v.quantize.describe() if v.quantize else {}),
                          "ort_kernels": ort_kernels(v.path)} for v in variants}
    return {"bundle": str(args.bundle),
            "onnx_sha256": bundle.manifest.find("onnx", "fp32")[-1].sha256,
            "machine": machine(), "calibration": {"size": config.size, "seed": config.seed,
                                                  "held_out": len(held_out)},
            "runs": args.runs, "warmup": args.warmup, "variants": described,
            "latency": timings, "gate": gates, "notes": notes(gates)}


def machine() -> dict:
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2), "onnxruntime": onnxruntime.__version__,
            "python": platform.python_version()}


def notes(gates: dict) -> list[str]:
    ratios = [tier["residual_ratio"] for gate in gates.values() for tier in gate["tiers"].values()]
    if all(ratio is None for ratio in ratios):
        return ["The FP32 model returns its input (initial weights, zero-initialised heads): "
                "the residual ratio is undefined and the gate checks PSNR only. Rerun this "
                "script when trained weights land."]
    return []


def markdown(result: dict) -> str:
    lines = [f"# INT8 vs FP32 on ONNX Runtime (CPU)\n",
             f"Bundle `{result['bundle']}` (model.onnx sha256 {result['onnx_sha256'][:12]}); "
             f"{result['machine']['cores']} cores, load {result['machine']['load_avg_1m']}, "
             f"onnxruntime {result['machine']['onnxruntime']}; batch 1 at each tier's opt "
             f"shape, median of {result['runs']} interleaved runs after {result['warmup']} "
             f"warm-up. Accuracy: the gate on {result['calibration']['held_out']} held-out "
             f"samples (calibration set: {result['calibration']['size']}).\n",
             "| variant | tier | FP32 ms | variant ms | speed-up | PSNR dB (worst) | "
             "max abs diff | residual ratio | gate |", "|---|---|---|---|---|---|---|---|---|"]
    for name, gate in result["gate"].items():
        for tier, timing in result["latency"].items():
            fp32, ms = timing["fp32"]["median_ms"], timing[name]["median_ms"]
            acc = gate["tiers"][tier]
            psnr = "identical" if acc["psnr_db"] is None else f"{acc['psnr_db']:.1f}"
            ratio = "n/a" if acc["residual_ratio"] is None else f"{acc['residual_ratio']:.3f}"
            lines.append(f"| {name} | {tier} | {fp32:.0f} | {ms:.0f} | {fp32 / ms:.2f}x | {psnr} "
                         f"| {acc['max_abs_diff']:.2g} | {ratio} | "
                         f"{'pass' if gate['passed'] else 'FAIL'} |")
    keep = result["variants"].get("int8-all-keep-edges", {}).get("keep_fp", [])
    lines += ["", f"`int8-all-keep-edges` keeps {', '.join(f'`{n}`' for n in keep)} in FP32.", "",
              "What ONNX Runtime runs after its graph optimizations:", ""]
    for name, variant in result["variants"].items():
        kernels = variant["ort_kernels"]
        lines.append(f"- {name}: {kernels['QLinearConv']} INT8 convolutions, {kernels['Conv']} "
                     f"float, {kernels['QuantizeLinear']} Q + {kernels['DequantizeLinear']} DQ "
                     f"nodes left unfused")
    lines.append("")
    lines += [f"Note: {note}" for note in result["notes"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=default_bundle_dir())
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--calibration-size", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calibration-dir", type=Path, default=None)
    parser.add_argument("--work-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "fuse-trt-int8",
                        help="where quantized variants are kept and reused (named by ONNX sha)")
    parser.add_argument("--out", type=Path, default=HERE / "int8_vs_fp32")
    args = parser.parse_args()
    result = measure(args)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
