"""INT8 on ONNX Runtime (CPU) against ONNX Runtime FP32 and PyTorch eager, per tier.

Variants, all from the bundle's FP32 ONNX and one set of activation ranges:

* ``int8`` -- the bundle's gated ``model.int8.onnx``: what ``--precision int8`` runs
  (default scope ``between-convs``, uint8 activations, narrow convs FP32; calibration/scope.py);
* ``int8-every-conv`` -- the same scope with the narrow convs quantized too;
* ``int8-chain-s8`` -- the same scope with signed (int8) activations;
* ``int8-conv-s8`` -- Conv nodes only, signed activations, every conv: the previous default;
* ``int8-nhwc-resize`` -- ``int8`` without the build's planar-resize rewrite
  (calibration/planar_resize.py): ONNX Runtime then runs the uint8 upsamplings in NHWC.

Every variant but ``int8-nhwc-resize`` gets that rewrite, as the build gives ``int8``.

Per tier (opt shape, batch 1): median latency of every variant, PyTorch eager and ORT FP32
measured side by side in one process (each round runs every case once, in the bench's
balanced order, so load from other processes hits them alike), the accuracy gate on the held-out images, and what ONNX Runtime
runs after its graph optimizations.

    python benchmarks/int8_vs_fp32.py [--bundle DIR] [--runs 7] [--calibration-dir DIR]

Writes benchmarks/int8_vs_fp32.json and .md.
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
from dataclasses import dataclass, replace
from pathlib import Path

import onnx
import onnxruntime

from fuse_trt.calibration.cache import cached_samples
from fuse_trt.calibration.dataset import CalibrationConfig
from fuse_trt.calibration.gate import GateConfig
from fuse_trt.bench.timing import balanced_order
from fuse_trt.calibration.ort_int8 import gate_onnx, single_batch
from fuse_trt.calibration.planar_resize import rewrite_file
from fuse_trt.calibration.quantize import QuantizeConfig, collect_ranges, quantize_with_ranges
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.tiers import TierTable
from fuse_trt.models import default_bundle_dir
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend
from fuse_trt.runtime.select import open_backend

HERE = Path(__file__).resolve().parent
KERNELS = ("QLinearConv", "Conv", "FusedConv", "QLinearAdd", "QuantizeLinear", "DequantizeLinear")


@dataclass(frozen=True)
class Variant:
    name: str
    path: Path
    quantize: QuantizeConfig | None  # None: the FP32 model itself


NHWC_RESIZE = "int8-nhwc-resize"


def comparison_configs() -> dict[str, QuantizeConfig]:
    chain = QuantizeConfig()
    return {"int8-every-conv": replace(chain, min_int8_channels=1),
            "int8-chain-s8": replace(chain, unsigned_activations=False),
            "int8-conv-s8": QuantizeConfig(op_types=("Conv",), between_convs=False,
                                           min_int8_channels=1, unsigned_activations=False),
            NHWC_RESIZE: chain}


def make_variants(bundle: Bundle, samples, work_dir: Path) -> list[Variant]:
    """FP32, the gated artifact and the comparison variants (reused from ``work_dir``)."""
    fp32 = bundle.artifact_path("onnx", "fp32")
    sha = bundle.manifest.find("onnx", "fp32")[-1].sha256[:12]
    ranges = work_dir / f"ranges-{sha}.json"
    if not ranges.is_file():
        started = time.perf_counter()
        collect_ranges(fp32, ranges, samples(), bundle.spec.input_names, QuantizeConfig())
        print(f"activation ranges in {time.perf_counter() - started:.1f} s")
    variants = [Variant("fp32", fp32, None),
                Variant("int8", bundle.artifact_path("onnx", "int8"), QuantizeConfig())]
    for name, config in comparison_configs().items():
        path = work_dir / f"{name}-{sha}.onnx"
        if not path.is_file():
            quantize_with_ranges(fp32, path, ranges, config)
            if name != NHWC_RESIZE:
                rewrite_file(path)
        variants.append(Variant(name, path, config))
    return variants


def ort_kernels(path: Path) -> dict[str, int]:
    """What ONNX Runtime actually runs: convolutions in INT8 vs float, leftover Q/DQ nodes."""
    with tempfile.TemporaryDirectory() as scratch:
        options = onnxruntime.SessionOptions()
        options.optimized_model_filepath = str(Path(scratch) / "optimized.onnx")
        options.log_severity_level = 3
        onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        counts = Counter(node.op_type for node in onnx.load(options.optimized_model_filepath)
                         .graph.node)
    return {op: counts[op] for op in KERNELS}


def op_profile(path: Path, feed: dict, runs: int = 3) -> dict[str, float]:
    """ms per op type per inference from ONNX Runtime's profiler (its default session)."""
    options = onnxruntime.SessionOptions()
    options.enable_profiling = True
    options.log_severity_level = 3
    with tempfile.TemporaryDirectory() as scratch:
        options.profile_file_prefix = str(Path(scratch) / "profile")
        session = onnxruntime.InferenceSession(str(path), options,
                                               providers=["CPUExecutionProvider"])
        session.run(None, feed)  # warm-up, also profiled: dropped below by taking the last runs
        for _ in range(runs):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    kernels = kernels[len(kernels) // (runs + 1):]
    per_op: Counter = Counter()
    for event in kernels:
        per_op[event["args"]["op_name"]] += event["dur"] / 1e3 / runs
    return {op: round(ms, 1) for op, ms in per_op.most_common()}


def time_tier(bundle: Bundle, variants: list[Variant], torch_backend, tier, runs: int,
              warmup: int) -> dict:
    """Median ms of PyTorch eager and every variant at the tier's opt shape, interleaved."""
    feed = bundle.spec.example_feed(1, *tier.opt_shape, seed=0)
    only_tier = single_batch(TierTable((tier,), bundle.tiers.stride))
    backends = {"torch": torch_backend}
    backends.update({v.name: OnnxRuntimeBackend(v.path, bundle.spec, only_tier,
                                                "int8" if v.quantize else "fp32").activate()
                     for v in variants})
    times: dict[str, list[float]] = {name: [] for name in backends}
    names = list(backends)
    try:
        for round_index in range(warmup + runs):
            for name in (names[position] for position in balanced_order(len(names),
                                                                        round_index)):
                backend = backends[name]
                started = time.perf_counter()
                backend.infer(tier, feed)
                if round_index >= warmup:
                    times[name].append((time.perf_counter() - started) * 1e3)
    finally:
        for name, backend in backends.items():
            if name != "torch":
                backend.close()
    return {name: {"median_ms": round(statistics.median(values), 1),
                   "min_ms": round(min(values), 1)} for name, values in times.items()}


def measure(args) -> dict:
    bundle = Bundle.load(args.bundle)
    config = CalibrationConfig(size=args.calibration_size, seed=args.seed)
    held_out = cached_samples(args.calibration_dir, bundle.spec, bundle.tiers, config, "held_out")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    variants = make_variants(bundle, lambda: cached_samples(
        args.calibration_dir, bundle.spec, bundle.tiers, config), args.work_dir)
    fp32 = bundle.artifact_path("onnx", "fp32")
    gates = {v.name: gate_onnx(fp32, v.path, bundle.spec, bundle.tiers, held_out,
                               GateConfig()).to_json() for v in variants[1:]}
    load_before = os.getloadavg()[0]
    with open_backend(bundle, "torch", "fp32") as torch_backend:
        timings = {tier.name: time_tier(bundle, variants, torch_backend, tier, args.runs,
                                        args.warmup) for tier in bundle.tiers}
    first = bundle.tiers.tiers[0]
    feed = bundle.spec.example_feed(1, *first.opt_shape, seed=0)
    profiles = {v.name: op_profile(v.path, feed) for v in variants
                if v.name in ("fp32", "int8", NHWC_RESIZE)}
    artifact = bundle.manifest.find("onnx", "int8")[-1]
    described = {v.name: {**(v.quantize.describe() if v.quantize else {}),
                          "ort_kernels": ort_kernels(v.path)} for v in variants}
    return {"bundle": str(args.bundle),
            "onnx_sha256": bundle.manifest.find("onnx", "fp32")[-1].sha256,
            "int8_sha256": artifact.sha256,
            "machine": {**machine(), "load_avg_1m_before": round(load_before, 2)},
            "calibration": {"size": config.size, "seed": config.seed, "held_out": len(held_out)},
            "runs": args.runs, "warmup": args.warmup, "variants": described,
            "latency": timings, "gate": gates,
            "op_profile": {"tier": first.name, "ms_per_op_type": profiles},
            "artifact_nodes": {key: artifact.details.get(key) for key in
                               ("int8_nodes", "fp32_nodes")}}


def machine() -> dict:
    import torch

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
            "onnxruntime": onnxruntime.__version__, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version()}


def _latency_table(result: dict) -> list[str]:
    names = [name for name in next(iter(result["latency"].values())) if name != "torch"]
    lines = ["| tier | PyTorch eager ms | " + " | ".join(f"{n} ms (vs FP32, vs PyTorch)"
                                                       for n in names) + " |",
             "|---" * (len(names) + 2) + "|"]
    for tier, timing in result["latency"].items():
        torch_ms, fp32_ms = timing["torch"]["median_ms"], timing["fp32"]["median_ms"]
        cells = [f"{timing[n]['median_ms']:.0f} ({fp32_ms / timing[n]['median_ms']:.2f}x, "
                 f"{torch_ms / timing[n]['median_ms']:.2f}x)" for n in names]
        lines.append(f"| {tier} | {torch_ms:.0f} | " + " | ".join(cells) + " |")
    return lines


def _gate_table(result: dict) -> list[str]:
    lines = ["| variant | tier | PSNR dB (worst) | max abs diff | residual ratio | gate |",
             "|---|---|---|---|---|---|"]
    for name, gate in result["gate"].items():
        for tier, acc in gate["tiers"].items():
            psnr = "identical" if acc["psnr_db"] is None else f"{acc['psnr_db']:.1f}"
            ratio = "n/a" if acc["residual_ratio"] is None else f"{acc['residual_ratio']:.4f}"
            lines.append(f"| {name} | {tier} | {psnr} | {acc['max_abs_diff']:.2g} | {ratio} | "
                         f"{'pass' if gate['passed'] else 'FAIL'} |")
    return lines


def _fp32_nodes(result: dict) -> list[str]:
    nodes = result["artifact_nodes"]
    if not nodes.get("int8_nodes"):
        return ["(the bundle's INT8 artifact records no node scope)"]
    counts = nodes["int8_nodes"]["op_types"]
    lines = [f"INT8: {nodes['int8_nodes']['count']} nodes (" +
             ", ".join(f"{count} {op}" for op, count in counts.items()) + "). FP32:"]
    for reason, entry in nodes["fp32_nodes"].items():
        named = f": {', '.join(f'`{n}`' for n in entry['nodes'])}" if "nodes" in entry else ""
        ops = ", ".join(f"{count} {op}" for op, count in entry["op_types"].items())
        lines.append(f"- {reason}, {entry['count']} nodes ({ops}){named}")
    return lines


def _load_note(machine_info: dict) -> list[str]:
    if max(machine_info["load_avg_1m_before"], machine_info["load_avg_1m_after"]) \
            <= machine_info["cores"]:
        return []
    return ["Load above the core count: the ratios against PyTorch eager are not representative "
            "(its OpenMP threads lose most to other processes); the INT8 / ORT FP32 ratios, "
            "both on ONNX Runtime's thread pool, are the steadier figure.", ""]


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = ["# INT8 vs FP32 (ONNX Runtime) and PyTorch eager, CPU\n",
             f"Bundle `{result['bundle']}` (model.onnx {result['onnx_sha256'][:12]}, "
             f"model.int8.onnx {result['int8_sha256'][:12]}); {m['cores']} cores, load "
             f"{m['load_avg_1m_before']} before / {m['load_avg_1m_after']} after the timing "
             f"(machine shared with other jobs); onnxruntime {m['onnxruntime']}, torch "
             f"{m['torch']} ({m['torch_threads']} threads). Batch 1 at each tier's opt shape, "
             f"median of {result['runs']} interleaved rounds after {result['warmup']} warm-up. "
             f"Accuracy: the gate on {result['calibration']['held_out']} held-out samples "
             f"(calibration set: {result['calibration']['size']}).\n",
             "`int8` is the gated artifact `--precision int8` runs; the others are built from "
             "the same ranges for comparison (see the script's docstring).\n",
             *_latency_table(result), "", *_load_note(m), *_gate_table(result), "",
             "What ONNX Runtime runs after its graph optimizations:", ""]
    for name, variant in result["variants"].items():
        k = variant["ort_kernels"]
        lines.append(f"- {name}: {k['QLinearConv']} INT8 convolutions, {k['Conv'] + k['FusedConv']}"
                     f" float, {k['QLinearAdd']} INT8 adds, {k['QuantizeLinear']} Q + "
                     f"{k['DequantizeLinear']} DQ nodes left")
    profile = result["op_profile"]
    lines += ["", f"## Where the time goes (ONNX Runtime's profiler, tier {profile['tier']}, "
              "ms per inference by op type, top 10)", "",
              "| fp32 | ms | int8 | ms |", "|---|---|---|---|"]
    tops = [list(profile["ms_per_op_type"][name].items())[:10] for name in ("fp32", "int8")]
    for (op32, ms32), (op8, ms8) in zip(*tops):
        lines.append(f"| {op32} | {ms32} | {op8} | {ms8} |")
    if NHWC_RESIZE in profile["ms_per_op_type"]:
        upsampling = {name: " + ".join(f"{op} {profile['ms_per_op_type'][name].get(op, 0.0)} ms"
                                       for op in ("Resize", "Transpose"))
                      for name in ("int8", NHWC_RESIZE)}
        lines += ["", f"Upsampling, same profile: int8 {upsampling['int8']}; {NHWC_RESIZE} "
                  f"{upsampling[NHWC_RESIZE]} (its uint8 Resize in NHWC; on planes it stays "
                  "NCHW behind two uint8 transposes, calibration/planar_resize.py)."]
    lines += ["", "## Which nodes of the gated artifact stay FP32, and why", "",
              *_fp32_nodes(result), "",
              "Reasons (calibration/scope.py): *outside the conv chain* -- the colour "
              "statistics and transfer ahead of the UNet and the blend after it (reductions, "
              "log/exp/pow of a few numbers, per-pixel colour arithmetic): no 8-bit kernel to "
              "gain, and the output's last bits come from them; *narrow conv* -- under 8 "
              "input or output channels (the 7-channel input conv, the 3-channel seam head): "
              "ONNX Runtime's INT8 kernel gains little or nothing there (few channels to "
              "vectorize over), and in FP32 they keep the first and last layer's precision; "
              "`int8-every-conv` quantizes them too, for comparison of speed and accuracy."]
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
                        help="where the ranges and comparison variants are kept (by ONNX sha)")
    parser.add_argument("--out", type=Path, default=HERE / "int8_vs_fp32")
    parser.add_argument("--markdown-only", action="store_true",
                        help="re-render the .md from the committed .json")
    args = parser.parse_args()
    if args.markdown_only:
        args.out.with_suffix(".md").write_text(markdown(json.loads(
            args.out.with_suffix(".json").read_text())))
        return
    result = measure(args)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
