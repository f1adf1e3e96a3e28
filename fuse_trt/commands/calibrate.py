"""`fuse-trt calibrate`: build and cache the INT8 calibration and held-out sets.

Also holds the INT8 options of `fuse-trt build` (:data:`int8_build_options`), so their help
text and the INT8 step they make (:func:`int8_step`) are defined once.
"""
from __future__ import annotations

from pathlib import Path

import click

from fuse_trt.commands.option_group import option_group

DEFAULT_SIZE = 24  # CalibrationConfig.size; not imported here so --help stays light


def _load_bundle(bundle_dir: Path | None):
    from fuse_trt.engine.bundle import Bundle
    from fuse_trt.models import default_bundle_dir

    return Bundle.load(bundle_dir or default_bundle_dir())


@click.command("calibrate")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Bundle whose tiers and inputs the set is made for; default: "
              "the model shipped in the package.")
@click.option("--size", type=click.IntRange(1, 100_000), default=DEFAULT_SIZE, show_default=True,
              help="Calibration samples over all tiers (at least tiers x 4 shapes).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the crops, "
              "shapes and synthetic masks; the same seed gives the same set.")
@click.option("-o", "--output", "cache_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="Directory for the cached sets (.npz); give it to `fuse-trt build "
              "--calibration-dir` to reuse them.")
def calibrate_command(bundle_dir: Path | None, size: int, seed: int, cache_dir: Path) -> None:
    """Build and cache the INT8 calibration set and the held-out set of the accuracy gate.

    Face photos that ship in installed packages go through the same face path and tier
    planner as inference; natural images get a synthetic face-like composite. Every tier
    gets several shapes across its profile.

    `fuse-trt build --precision int8` (either backend) takes:

    \b
      --keep-fp NODE,...         nodes kept in floating point (first/last Conv are
                                 the usual suspects; a failed gate names them)
      --int8-ops between-convs|all|OPS   what to quantize (default: the convs
                                 and the ops between them)
      --gate-psnr DB             min PSNR of the face region vs FP32 (default 35)
      --gate-residual-ratio R    max INT8 error / the model's own change (default 1)
      --calibration-dir DIR      reuse the sets this command cached
      --calibration-size N, --calibration-seed S
    """
    from fuse_trt.calibration.cache import cache_path, cached_samples
    from fuse_trt.calibration.dataset import CalibrationConfig
    from fuse_trt.engine.files import check_output_directory
    from fuse_trt.engine.progress import progress_bar

    check_output_directory(cache_dir)
    bundle = _load_bundle(bundle_dir)
    config = CalibrationConfig(size=size, seed=seed)
    for split in ("calibration", "held_out"):
        samples = cached_samples(cache_dir, bundle.spec, bundle.tiers, config, split,
                                 progress_bar(f"{split} set"))
        per_tier = {name: sum(s.tier == name for s in samples) for name in bundle.tiers.names()}
        path = cache_path(cache_dir, bundle.spec, bundle.tiers, config, split)
        click.echo(f"{split}: {len(samples)} samples {per_tier} -> {path}")


_INT8_OPTIONS = [
    click.option("--keep-fp", default=None, metavar="NODE,...",
                 help="INT8: ONNX node names to keep in floating point (e.g. the first "
                 "and last Conv, which the gate's error message names)."),
    click.option("--int8-ops", default="between-convs", show_default=True,
                 metavar="between-convs|all|OPS",
                 help="INT8: what to quantize: every Conv and the Relu/Add/MaxPool/Resize/"
                 "Concat between convs (the trunk runs in 8 bits end to end), every op type "
                 "('all'), or op types, comma-separated."),
    click.option("--gate-psnr", type=float, default=35.0, show_default=True,
                 help="INT8: minimum PSNR (dB) of the fused face region vs FP32, per tier."),
    click.option("--gate-residual-ratio", type=float, default=1.0, show_default=True,
                 help="INT8: maximum mean |int8 - fp32| / mean |fp32 - composite|."),
    click.option("--calibration-dir", type=click.Path(path_type=Path, file_okay=False),
                 default=None, help="INT8: cache of calibration sets (`fuse-trt calibrate`)."),
    click.option("--calibration-size", type=click.IntRange(1, 100_000), default=DEFAULT_SIZE,
                 show_default=True, help="INT8: calibration samples over all tiers."),
    click.option("--calibration-seed", type=int, default=0, show_default=True,
                 help="INT8: seed of the calibration set."),
]


def int8_step(keep_fp: str | None, int8_ops: str, gate_psnr: float, gate_residual_ratio: float,
              calibration_dir: Path | None, calibration_size: int, calibration_seed: int):
    """The INT8 step `fuse-trt build` injects into the build (calibration.step.CalibratedInt8)."""
    from fuse_trt.calibration.options import Int8Options
    from fuse_trt.calibration.step import CalibratedInt8

    return CalibratedInt8(Int8Options.from_cli(
        keep_fp=keep_fp, int8_ops=int8_ops, gate_psnr=gate_psnr,
        gate_residual_ratio=gate_residual_ratio, calibration_size=calibration_size,
        calibration_seed=calibration_seed, calibration_dir=calibration_dir))


int8_build_options = option_group("int8", _INT8_OPTIONS, int8_step)
