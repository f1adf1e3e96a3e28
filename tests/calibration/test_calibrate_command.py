"""`fuse-trt calibrate` and the INT8 options it documents for `fuse-trt build`."""
from __future__ import annotations

import click
from click.testing import CliRunner

from fuse_trt.calibration.cache import cache_path, load_samples
from fuse_trt.calibration.dataset import CalibrationConfig
from fuse_trt.calibration.options import Int8Options
from fuse_trt.calibration.scope import CHAIN_OPS
from fuse_trt.commands.calibrate import calibrate_command, int8_build_options


def test_calibrate_builds_and_caches_both_sets(calibration_bundle_template, tmp_path):
    bundle = calibration_bundle_template
    result = CliRunner().invoke(calibrate_command, ["--bundle", str(bundle.directory),
                                                    "--size", "12", "--seed", "3",
                                                    "-o", str(tmp_path / "sets")])
    assert result.exit_code == 0, result.output
    config = CalibrationConfig(size=12, seed=3)
    for split, count in (("calibration", 12), ("held_out", 6)):
        path = cache_path(tmp_path / "sets", bundle.spec, bundle.tiers, config, split)
        samples = load_samples(path)
        assert len(samples) == count and f"{split}: {count} samples" in result.output
        assert {s.tier for s in samples} == set(bundle.tiers.names())


def test_calibrate_help_documents_the_build_options():
    result = CliRunner().invoke(calibrate_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--keep-fp", "--int8-ops", "--gate-psnr", "--bundle", "--size", "--seed"):
        assert option in result.output


def test_build_options_make_the_int8_options_the_steps_read(tmp_path):
    captured = {}

    @click.command()
    @int8_build_options
    def build(int8):
        captured["options"] = int8.options

    args = ["--keep-fp", "/a/Conv,/b/Conv", "--int8-ops", "all", "--gate-psnr", "40",
            "--calibration-dir", str(tmp_path), "--calibration-size", "30"]
    assert CliRunner().invoke(build, args).exit_code == 0
    options = captured["options"]
    assert options.quantize.keep_fp == ("/a/Conv", "/b/Conv") and options.quantize.op_types is None
    assert options.gate.min_psnr_db == 40 and options.gate.max_residual_ratio == 1.0
    assert options.cache_dir == tmp_path and options.calibration.size == 30
    default = Int8Options.from_cli().quantize
    assert default.op_types == CHAIN_OPS and default.between_convs
