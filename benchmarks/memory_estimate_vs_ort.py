"""The activation estimator against what ONNX Runtime holds on the CPU, two shapes per tier.

For each (tier, batch) a fresh spawned process opens an FP32 CPU session (arena and memory
pattern off, as the backend runs it), binds the inputs and the output to preallocated
buffers (IOBinding, so I/O is not counted), runs once to warm up, then measures the peak RSS
growth of a second run (``/proc/self/clear_refs`` resets the high-water mark). glibc's mmap
threshold is pinned so freed blocks go back to the kernel and the peak is the live peak.
The estimator runs on the same graph at FP32 element sizes. Writes
benchmarks/memory/estimate_vs_ort.{json,md}.

    .venv/bin/python benchmarks/memory_estimate_vs_ort.py
"""
from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

OUT = Path(__file__).resolve().parent / "memory"
MIB = 1 << 20


def measure(onnx_path: str, spec_json: dict, batch: int, height: int, width: int) -> dict:
    import gc

    import numpy as np
    import onnxruntime

    from fuse_trt.bench.memory import peak_rss_bytes, reset_peak_rss, rss_bytes
    from fuse_trt.engine.spec import ModelSpec

    spec = ModelSpec.from_json(spec_json)
    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.intra_op_num_threads = 2
    session = onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    feed = spec.example_feed(batch, height, width)
    binding = session.io_binding()
    for name, array in feed.items():
        binding.bind_input(name, "cpu", 0, np.float32, array.shape, array.ctypes.data)
    outputs = {t.name: np.zeros(t.shape(batch, height, width), np.float32) for t in spec.outputs}
    for name, array in outputs.items():
        binding.bind_output(name, "cpu", 0, np.float32, array.shape, array.ctypes.data)
    session.run_with_iobinding(binding)  # warm-up: kernel state, prepacked weights
    gc.collect()
    baseline = rss_bytes()
    reset = reset_peak_rss()
    session.run_with_iobinding(binding)
    return {"batch": batch, "height": height, "width": width, "peak_reset": reset,
            "ort_peak_growth_bytes": peak_rss_bytes() - baseline}


def shapes(bundle) -> list[tuple[str, int, int, int]]:
    rows = []
    for tier in bundle.tiers:
        height, width = tier.max_shape
        for batch in sorted({1, max(2, tier.max_batch)}):
            rows.append((tier.name, batch, height, width))
    return rows


def main() -> None:
    from fuse_trt.engine.activations import ActivationEstimator
    from fuse_trt.engine.bundle import Bundle
    from fuse_trt.engine.files import sha256_file
    from fuse_trt.models import default_bundle_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=default_bundle_dir())
    args = parser.parse_args()
    bundle = Bundle.load(args.bundle)
    onnx_path = bundle.artifact_path("onnx", "fp32")
    estimator = ActivationEstimator.from_path(onnx_path, bundle.spec)
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"  # inherited by the spawned children
    rows = []
    for name, batch, height, width in shapes(bundle):
        with ProcessPoolExecutor(1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
            row = pool.submit(measure, str(onnx_path), bundle.spec.to_json(), batch, height,
                              width).result()
        estimate = estimator.peak(batch, height, width, float_bytes=4).bytes
        row.update(tier=name, estimate_bytes=estimate,
                   ratio_ort_over_estimate=row["ort_peak_growth_bytes"] / estimate)
        rows.append(row)
        print(f"tier {name} {batch}x{height}x{width}: ORT {row['ort_peak_growth_bytes'] / MIB:.1f}"
              f" MiB, estimate {estimate / MIB:.1f} MiB, ratio {row['ratio_ort_over_estimate']:.3f}")
    ratios = [row["ratio_ort_over_estimate"] for row in rows]
    result = {"bundle": str(args.bundle), "onnx_sha256": sha256_file(onnx_path),
              "rows": rows, "ratio_min": min(ratios), "ratio_max": max(ratios)}
    OUT.mkdir(exist_ok=True)
    (OUT / "estimate_vs_ort.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Activation estimate vs ONNX Runtime (CPU, FP32)", "",
             f"Made by `benchmarks/memory_estimate_vs_ort.py` on the default bundle (model.onnx "
             f"sha256 {result['onnx_sha256'][:12]}). ORT: peak RSS growth of one steady-state "
             f"run with I/O pre-bound, arena and memory pattern off. Estimate: onnx shape "
             f"inference + tensor lifetimes, FP32.", "",
             "| tier | batch x H x W | ORT peak (MiB) | estimate (MiB) | ORT / estimate |",
             "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['tier']} | {row['batch']}x{row['height']}x{row['width']} | "
                     f"{row['ort_peak_growth_bytes'] / MIB:.1f} | {row['estimate_bytes'] / MIB:.1f}"
                     f" | {row['ratio_ort_over_estimate']:.3f} |")
    lines += ["", f"Ratio range {min(ratios):.3f} .. {max(ratios):.3f}."]
    (OUT / "estimate_vs_ort.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
