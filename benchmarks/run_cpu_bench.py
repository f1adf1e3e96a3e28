"""The committed CPU benchmark (`make bench`): default model, all tiers, ONNX Runtime FP32 and
INT8 (when the INT8 build works) and the OpenVINO CPU peer row (when `openvino` is installed)
against PyTorch eager, plus the stability check.

    python benchmarks/run_cpu_bench.py [--stability-fusions 1000]
        [--wait-load 1.5 --wait-until 10:40] [--openvino-original ORIGINAL.onnx]

Writes benchmarks/cpu/bench.json, bench.md and bench.png. The INT8 artifact comes from
`fuse-trt build --precision int8` into build/bench-bundle (ignored by git); when that build
fails, the run goes on with FP32 only and the JSON records why. A default model that ships its
INT8 ONNX is measured as it is.
"""
from __future__ import annotations

import argparse
import datetime
import logging
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
log = logging.getLogger("fuse_trt")


def int8_bundle(directory: Path) -> tuple[Path | None, str]:
    """The default model when it ships an INT8 ONNX (what `--precision int8` runs), else
    build (or reuse) a bundle with its FP32 and INT8 ONNX; None on failure."""
    from fuse_trt.build_engine.pipeline import build_bundle
    from fuse_trt.build_engine.bundle_builder import BuildConfig
    from fuse_trt.calibration.step import CalibratedInt8
    from fuse_trt.engine.bundle import Bundle
    from fuse_trt.models import default_bundle_dir

    default = Bundle.load(default_bundle_dir())
    if default.manifest.find("onnx", "int8"):
        return default_bundle_dir(), "the gated INT8 ONNX shipped with the default model"
    existing = directory / "manifest.json"
    if existing.is_file():
        bundle = Bundle.load(directory)
        same_model = bundle.manifest.find("weights", "fp32") and \
            bundle.manifest.find("weights", "fp32")[0].sha256 == \
            default.manifest.find("weights", "fp32")[0].sha256
        if same_model and bundle.manifest.find("onnx", "int8"):
            return directory, f"reused {directory.name} (same default weights)"
        shutil.rmtree(directory)  # another model: never extend its FP32 ONNX
    try:
        build_bundle(directory, BuildConfig(backend="onnxruntime", precision="int8",
                                            source_bundle=default_bundle_dir(),
                                            int8=CalibratedInt8()))
    except Exception as error:  # the benchmark still runs FP32 and says why INT8 is absent
        return None, f"INT8 build failed: {type(error).__name__}: {error}"
    return directory, f"built with `fuse-trt build --precision int8 -o {directory}`"


def wait_for_quiet(max_load: float | None, until: str | None) -> dict:
    """Wait until the 1-minute load average is below ``max_load`` or the UTC time ``until``."""
    started = time.time()
    deadline = None
    if until:
        hour, minute = (int(part) for part in until.split(":"))
        now = datetime.datetime.now(datetime.timezone.utc)
        deadline = now.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()
    while max_load is not None and os.getloadavg()[0] >= max_load:
        if deadline is not None and time.time() >= deadline:
            break
        time.sleep(15)
    return {"waited_s": round(time.time() - started), "load_at_start": list(os.getloadavg()),
            "max_load": max_load, "until_utc": until}


def main(argv: list[str] | None = None) -> None:
    from fuse_trt.bench.timing import TimingConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "cpu" / "bench"))
    parser.add_argument("--bundle-dir", default=str(ROOT / "build" / "bench-bundle"))
    parser.add_argument("--warmup-ms", type=float, default=1000.0)
    parser.add_argument("--duration-s", type=float, default=15.0)
    parser.add_argument("--min-iters", type=int, default=15)
    parser.add_argument("--slice-warmup-iters", type=int,
                        default=TimingConfig.slice_warmup_iters)
    parser.add_argument("--stability-fusions", type=int, default=1000)
    parser.add_argument("--wait-load", type=float, default=None,
                        help="Start only when the 1-minute load average is below this.")
    parser.add_argument("--wait-until", default=None, help="...or at this UTC time (HH:MM).")
    parser.add_argument("--openvino-original", type=Path, default=None,
                        help="ONNX of the graph before the export rewrites (the bundle's I/O "
                        "names): adds the openvino-original row.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    from fuse_trt.bench import BenchConfig, run_benchmark
    from fuse_trt.bench.openvino_peer import check_original_onnx
    from fuse_trt.bench.report import to_markdown, write_json, write_markdown, write_plot
    from fuse_trt.engine.bundle import Bundle
    from fuse_trt.engine.errors import FuseTrtError
    from fuse_trt.models import default_bundle_dir

    if args.openvino_original is not None:  # before the wait and the INT8 build
        try:
            check_original_onnx(args.openvino_original, Bundle.load(default_bundle_dir()).spec)
        except FuseTrtError as error:
            parser.error(str(error))

    quiet = wait_for_quiet(args.wait_load, args.wait_until)
    bundle, int8_note = int8_bundle(Path(args.bundle_dir))
    config = BenchConfig(
        bundle=bundle or default_bundle_dir(), backends=("onnxruntime", "openvino", "torch"),
        timing=TimingConfig(warmup_ms=args.warmup_ms, duration_s=args.duration_s,
                            min_iters=args.min_iters,
                            slice_warmup_iters=args.slice_warmup_iters),
        stability_fusions=args.stability_fusions, openvino_original_onnx=args.openvino_original)
    report = run_benchmark(config)
    report["command"] = shlex.join(["python", "benchmarks/run_cpu_bench.py",
                                    *(argv if argv is not None else sys.argv[1:])])
    report["int8"] = int8_note
    report["wait"] = quiet
    out = Path(args.out)
    write_json(report, out.with_suffix(".json"))
    write_markdown(report, out.with_suffix(".md"))
    write_plot(report, out.with_suffix(".png"))
    print(to_markdown(report))


if __name__ == "__main__":
    main()
