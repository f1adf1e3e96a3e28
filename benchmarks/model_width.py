"""What the UNet's trunk buys: the shipped model against its trunk switched off and against a
narrow retrain, in quality (held-out synthetic pairs) and in ONNX Runtime latency, one run.

The seam head is the trunk's only way into the output, so zeroing its weights (the "no
trunk" columns) gives the colour head alone, on the same exported graph. The narrow model is
`fuse-trt train --config narrow` (half the trunk's channels, same colour head and schedule).

    fuse-trt train -o /tmp/narrow --config narrow --seed 0
    python benchmarks/model_width.py --narrow-bundle /tmp/narrow
    # writes benchmarks/model_width/model_width.{json,md}
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fuse_trt.bench.flops import onnx_flops
from fuse_trt.bench.machine import load_average, machine_info
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind, Precision
from fuse_trt.engine.files import write_bytes_atomic
from fuse_trt.models import default_bundle_dir
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend
from fuse_trt.training.evaluate import evaluate_synthetic

HERE = Path(__file__).resolve().parent
OUT = HERE / "model_width" / "model_width"


def without_trunk(bundle: Bundle, directory: Path) -> Bundle:
    """The bundle's model re-exported with the seam head's weights zeroed."""
    import torch
    from safetensors.torch import load_file, save_file

    from fuse_trt.build_engine.bundle_builder import BuildConfig, export_fp32
    from fuse_trt.engine.unet import UNetConfig

    weights = load_file(str(bundle.artifact_path(ArtifactKind.WEIGHTS, Precision.FP32)))
    zeroed = {name: torch.zeros_like(value) if name.startswith("seam_head.") else value
              for name, value in weights.items()}
    path = directory / "zeroed.safetensors"
    save_file(zeroed, str(path))
    config = UNetConfig(**bundle.manifest.unet_config)
    return export_fp32(directory / "bundle", BuildConfig(unet_config=config, weights=path))


def quality(bundle: Bundle) -> dict:
    """{group: {region: dB}} of the UNet, and the colour-transfer input it refines."""
    rows = {}
    for group, (scores, _) in evaluate_synthetic(bundle).items():
        rows[group] = {method: {"whole": round(s.whole, 3), "in_mask": round(s.in_mask, 3),
                                "seam": round(s.seam, 3)}
                       for method, s in scores.items() if method in ("UNet", "colour transfer")}
    return rows


def interleaved_latency(bundles: dict[str, Bundle], rounds: int) -> dict:
    """Median model-only ms per (model, tier), the models alternating round by round; each
    timed call follows an untimed one of its own model, as in `fuse-trt bench`'s slices."""
    backends = {label: OnnxRuntimeBackend(b.artifact_path(ArtifactKind.ONNX, Precision.FP32),
                                          b.spec, b.tiers).activate()
                for label, b in bundles.items()}
    try:
        result = {}
        for tier in next(iter(bundles.values())).tiers:
            feeds = {label: bundles[label].spec.example_feed(1, *tier.max_shape)
                     for label in backends}
            times = {label: [] for label in backends}
            for label, backend in backends.items():  # warm-up: the tier session is made here
                backend.infer(tier, feeds[label])
            for _ in range(rounds):
                for label, backend in backends.items():
                    backend.infer(tier, feeds[label])  # untimed: the other model's threads
                    start = time.perf_counter()
                    backend.infer(tier, feeds[label])
                    times[label].append(1000.0 * (time.perf_counter() - start))
            result[tier.name] = {label: round(float(np.median(values)), 1)
                                 for label, values in times.items()}
        return result
    finally:
        for backend in backends.values():
            backend.close()


def conv_gflop(bundle: Bundle) -> dict:
    onnx_path = bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32)
    return {tier.name: round(onnx_flops(onnx_path, bundle.spec, 1, *tier.max_shape) / 1e9, 2)
            for tier in bundle.tiers}


def markdown(report: dict) -> str:
    labels = list(report["models"])
    lines = ["# What the UNet's trunk buys", "",
             f"- command: `{report['command']}`",
             f"- machine: {report['machine']['cpu']}; load average at start "
             f"{report['load_start']}, at end {report['load_end']}",
             "- models: " + "; ".join(f"{label}: {desc}"
                                      for label, desc in report["models"].items()), "",
             "## Quality: held-out synthetic pairs, UNet PSNR (dB)", "",
             "| group | region | colour transfer (input) | " + " | ".join(labels) + " |",
             "|---|---|---|" + "---|" * len(labels)]
    first = report["quality"][labels[0]]
    for group in first:
        for region in ("whole", "in_mask", "seam"):
            base = first[group]["colour transfer"][region]
            cells = [f"{report['quality'][label][group]['UNet'][region]:.2f}" for label in labels]
            lines.append(f"| {group} | {region.replace('_', ' ')} | {base:.2f} | "
                         + " | ".join(cells) + " |")
    lines += ["", f"## ONNX Runtime FP32, model only, batch 1 (median of {report['rounds']} "
              "interleaved rounds each)", "",
              "| tier | " + " | ".join(f"{label} ms" for label in report["latency_models"])
              + " | speed-up | " + " | ".join(f"{label} GFLOP (Conv, MatMul, Gemm)"
                                             for label in report["latency_models"]) + " |",
              "|---|" + "---|" * (2 * len(report["latency_models"]) + 1)]
    first_label, second_label = report["latency_models"]
    for tier, times in report["latency"].items():
        ratio = times[first_label] / times[second_label]
        lines.append(f"| {tier} | {times[first_label]:.1f} | {times[second_label]:.1f} | "
                     f"{ratio:.2f}x | " + " | ".join(
                         f"{report['conv_gflop'][label][tier]:.2f}"
                         for label in report["latency_models"]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--narrow-bundle", type=Path, required=True,
                        help="Bundle of `fuse-trt train --config narrow`.")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    shipped, narrow = Bundle.load(default_bundle_dir()), Bundle.load(args.narrow_bundle)
    report = {"command": shlex.join(["python", "benchmarks/model_width.py",
                                     *(argv if argv is not None else sys.argv[1:])]),
              "machine": machine_info(), "load_start": load_average(), "rounds": args.rounds,
              "models": {"shipped": f"unet_config {shipped.manifest.unet_config}",
                         "shipped, no trunk": "the shipped weights with the seam head zeroed",
                         "narrow": f"unet_config {narrow.manifest.unet_config}",
                         "narrow, no trunk": "the narrow weights with the seam head zeroed"}}
    report["quality"] = {}
    for label, bundle in (("shipped", shipped), ("narrow", narrow)):
        with tempfile.TemporaryDirectory() as scratch:
            report["quality"][label] = quality(bundle)
            report["quality"][f"{label}, no trunk"] = quality(without_trunk(bundle,
                                                                            Path(scratch)))
    report["latency_models"] = ["shipped", "narrow"]
    report["latency"] = interleaved_latency({"shipped": shipped, "narrow": narrow}, args.rounds)
    report["conv_gflop"] = {"shipped": conv_gflop(shipped), "narrow": conv_gflop(narrow)}
    report["load_end"] = load_average()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(args.out.with_suffix(".json"),
                       (json.dumps(report, indent=2) + "\n").encode())
    write_bytes_atomic(args.out.with_suffix(".md"), markdown(report).encode())
    print(markdown(report))


if __name__ == "__main__":
    main()
