"""The `fuse-trt` command: a thin layer over the Python API.

User errors (FuseTrtError, bad options) print one line and exit non-zero; no traceback.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from fuse_trt.commands.bench import bench_command
from fuse_trt.commands.checks import check_finite
from fuse_trt.commands.doctor import doctor_command
from fuse_trt.commands.export_triton import export_triton_command
from fuse_trt.commands.calibrate import calibrate_command, int8_build_options
from fuse_trt.commands.option_group import option_group
from fuse_trt.commands.stream import stream_command
from fuse_trt.commands.targeting import targeting_options
from fuse_trt.commands.train import train_command
from fuse_trt.commands.fusion_options import fusion_config, fusion_options
from fuse_trt.engine.choices import BackendName, Precision, Region, values
from fuse_trt.engine.errors import ConfigError, FuseTrtError
from fuse_trt.engine.progress import enable_phase_lines

TIER_EDGE_RANGE = (16, 2048)  # short edges a tier may have; 2048 already means 4096x4096 inputs


def parse_tiers(value: str) -> tuple[int, ...]:
    try:
        edges = tuple(sorted(int(part) for part in value.split(",") if part.strip()))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated short edges such as 512,768,1024, "
                                 f"got {value!r}") from None
    if not edges:
        raise click.BadParameter("at least one tier is needed")
    low, high = TIER_EDGE_RANGE
    outside = [edge for edge in edges if not low <= edge <= high]
    if outside:
        raise click.BadParameter(f"tier short edges must lie in {low}..{high}, got "
                                 f"{', '.join(map(str, outside))}", param_hint="--tiers")
    if len(set(edges)) != len(edges):
        raise click.BadParameter(f"each tier once, got {value!r}", param_hint="--tiers")
    return edges


def _budget(context, parameter, value: str) -> int:
    from fuse_trt.engine.memory_plan import parse_bytes

    try:
        return parse_bytes(value)
    except FuseTrtError as error:
        raise click.BadParameter(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fuse-trt", prog_name="fuse-trt",
                      message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """UNet face fusion compiled for TensorRT, with an ONNX Runtime CPU path."""
    from fuse_trt.commands.native_logs import quiet_native_logs

    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")
    enable_phase_lines()  # a line per long step (export, calibration, TensorRT build) on stderr
    quiet_native_logs(verbose)


@cli.command()
@click.argument("source")
@click.argument("target")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output image (.png, .jpg, .webp), written atomically; with a folder or "
              "glob TARGET, the output folder.")
@fusion_options
@click.option("--region", type=click.Choice(values(Region)), default=Region.FACE.value,
              show_default=True,
              help="Run the UNet on the face with context, or on the whole frame.")
@click.option("--ratio", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              callback=check_finite, help="0 keeps the target's face, 1 pastes the source's.")
@targeting_options
@click.pass_context
def fuse(ctx: click.Context, source: str, target: str, output: Path, target_face: str | None,
         mapping: tuple, similarity: float, **options) -> None:
    """Fuse the face in SOURCE onto the face(s) in TARGET. SOURCE/TARGET may be sample:NAME;
    TARGET may be a folder or a quoted glob ('shots/*.jpg'), then -o is a folder. With --map,
    SOURCE is - (the sources come from the map).

    By default the classical colour composite is refined by the bundle's UNet; target faces
    turned past the yaw threshold are left untouched (--allow-profile fuses them)."""
    from fuse_trt.api import FaceFusion
    from fuse_trt.commands.batch import is_batch_target, run_batch
    from fuse_trt.commands.native_logs import native_messages_logged
    from fuse_trt.commands.targeting import apply_targeting
    from fuse_trt.engine.faces.samples import resolve_image_path
    from fuse_trt.engine.files import check_output_directory, check_output_file
    from fuse_trt.engine.images import read_image, write_image

    config = fusion_config(ctx, **options)
    batch = is_batch_target(target)
    (check_output_directory if batch else check_output_file)(output)
    with native_messages_logged():
        target_image = None if batch else read_image(resolve_image_path(target))
    if output.is_dir() and not batch:
        raise FuseTrtError(f"{output}: is a directory; give an output file name such as out.png")
    with FaceFusion(config) as fusion:
        apply_targeting(fusion, source, target_face, mapping, similarity)
        if batch:
            run_batch(fusion, target, output)
            return
        fused = fusion.fuse(target_image.rgb)
    with native_messages_logged():
        write_image(output, fused, target_image.alpha)
    click.echo(f"wrote {output}")


_TENSORRT_OPTIONS = [
    click.option("--workspace-mib", type=click.IntRange(16), default=1024, show_default=True,
                 help="TensorRT: builder workspace limit."),
    click.option("--strongly-typed", is_flag=True,
                 help="TensorRT 10.x: build strongly typed from an FP16 / Q/DQ ONNX "
                 "(always so on 11.x)."),
    click.option("--hardware-compat", is_flag=True,
                 help="TensorRT: one plan for every Ampere-or-newer GPU (where supported)."),
    click.option("--version-compatible", is_flag=True,
                 help="TensorRT: a plan that later TensorRT of the same major can load."),
    click.option("--dla-core", type=click.IntRange(0), default=None,
                 help="TensorRT on Jetson Orin: DLA core for the --dla-tiers."),
    click.option("--dla-tiers", default="", metavar="TIER,...",
                 help="TensorRT: tiers built into a static-shape DLA plan with GPU fallback."),
]


def tensorrt_config(workspace_mib: int, strongly_typed: bool, hardware_compat: bool,
                    version_compatible: bool, dla_core: int | None, dla_tiers: str):
    from fuse_trt.build_engine.tensorrt_config import TensorRTBuildConfig

    return TensorRTBuildConfig(
        workspace_bytes=workspace_mib << 20, strongly_typed=strongly_typed,
        hardware_compat=hardware_compat, version_compatible=version_compatible,
        dla_core=dla_core, dla_tiers=tuple(t.strip() for t in dla_tiers.split(",") if t.strip()))


tensorrt_build_options = option_group("tensorrt", _TENSORRT_OPTIONS, tensorrt_config)


@cli.command()
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Bundle directory to create or extend.")
@click.option("--backend",
              type=click.Choice([BackendName.ONNXRUNTIME.value, BackendName.TENSORRT.value]),
              default=BackendName.ONNXRUNTIME.value, show_default=True)
@click.option("--precision", type=click.Choice(values(Precision)),
              default=Precision.FP32.value,
              show_default=True)
@click.option("--tiers", "tier_edges", default="512,768,1024", show_default=True,
              help="Short edge of each resolution tier.")
@click.option("--region", type=click.Choice(values(Region)), default=Region.FACE.value,
              show_default=True, help="What the UNet will be sent: face regions (square "
              "tiers) or whole frames (16:9 tiers, portrait frames transposed).")
@click.option("--max-batch", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Most faces per UNet call in any tier; --vram-budget may pick fewer per tier.")
@click.option("--vram-budget", default="300MiB", show_default=True, callback=_budget,
              help="Device memory the engine may hold (weights + scratch + I/O); each tier's "
              "max batch is the largest that fits. The default suits a 4 GB Jetson running a "
              "camera pipeline (see engine/memory_plan.py).")
@click.option("--pinned-budget", default="32MiB", show_default=True, callback=_budget,
              help="Page-locked host memory for the I/O buffers a discrete GPU copies through "
              "(a Jetson maps them into the device: no extra); caps each tier's batch too.")
@click.option("--opset", type=click.IntRange(13, 23), default=17, show_default=True,
              help="ONNX opset (17 parses on TensorRT 8.6 / JetPack 6.0).")
@click.option("--weights", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="FusionUNet weights (.safetensors); default: the shipped model.")
@click.option("--onnx", "onnx_model", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Your own fusion model as ONNX with the fusion spec's I/O "
              "names (docs/quality.md), instead of a FusionUNet.")
@click.option("--stride", type=click.IntRange(1), default=16, show_default=True,
              help="With --onnx: the model's stride (H and W are padded to a multiple).")
@click.option("--force", is_flag=True,
              help="Replace a bundle at -o that this build cannot extend (other tiers, weights "
              "or opset); without it such a build is refused.")
@int8_build_options
@tensorrt_build_options
def build(output: Path, backend: str, precision: str, tier_edges: str, region: str,
          max_batch: int, vram_budget: int, pinned_budget: int, opset: int,
          weights: Path | None,
          onnx_model: Path | None, stride: int, force: bool, int8, tensorrt) -> None:
    """Export the fusion UNet to ONNX and build the artifacts for a backend and precision."""
    from fuse_trt.build_engine.bundle_builder import BuildConfig
    from fuse_trt.build_engine.inputs import check_onnx_file, check_weights_file
    from fuse_trt.build_engine.pipeline import build_bundle
    from fuse_trt.calibration.range_samples import PhotoRangeSamples
    from fuse_trt.engine.files import check_output_directory
    from fuse_trt.models import default_bundle_dir

    if weights is not None and onnx_model is not None:
        raise FuseTrtError("give --weights (a FusionUNet) or --onnx (your own model), not both")
    edges = parse_tiers(tier_edges)
    if any(edge % stride for edge in edges):
        raise click.BadParameter(f"tier short edges must be multiples of the model's stride "
                                 f"{stride}, got {tier_edges}", param_hint="--tiers")
    check_output_directory(output)
    if weights is not None:
        check_weights_file(weights)
    if onnx_model is not None:
        check_onnx_file(onnx_model)
    config = BuildConfig(
        backend=backend, precision=precision, tier_short_edges=edges,
        region=region, max_batch=max_batch, vram_budget_bytes=vram_budget,
        pinned_budget_bytes=pinned_budget, opset=opset,
        weights=weights, onnx=onnx_model, stride=stride, source_bundle=default_bundle_dir(),
        replace_existing=force, int8=int8, tensorrt=tensorrt, range_samples=PhotoRangeSamples())
    bundle = build_bundle(output, config)
    click.echo(f"bundle {bundle.directory}: " + ", ".join(
        f"{a.file} ({a.kind}/{a.precision})" for a in bundle.manifest.artifacts))
    for artifact in bundle.manifest.artifacts:
        if "gate" in artifact.details:
            click.echo(gate_summary(artifact.file, artifact.details["gate"]))


def gate_summary(file: str, gate: dict) -> str:
    """One line: the INT8 accuracy gate's verdict and its numbers per tier."""
    tiers = "; ".join(
        f"tier {name}: PSNR {'inf' if t['psnr_db'] is None else t['psnr_db']} dB, max |diff| "
        f"{t['max_abs_diff']:.3g}, residual ratio {t['residual_ratio']}"
        for name, t in gate["tiers"].items())
    return f"{file}: INT8 gate {'passed' if gate['passed'] else 'FAILED'} ({tiers})"


@cli.command()
@click.argument("bundle", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON object (versions, tiers, artifacts, memory_plan per tier).")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Check every artifact's sha256 against the manifest; exit 1 naming any "
              "that is missing or changed.")
def info(bundle: Path | None, as_json: bool, verify: bool) -> None:
    """Versions, available backends, the tier table, what a bundle holds, its memory plan."""
    import json

    from fuse_trt.engine.bundle import Bundle
    from fuse_trt.engine.errors import BundleError
    from fuse_trt.info import describe, describe_json
    from fuse_trt.models import default_bundle_dir

    loaded = Bundle.load(bundle or default_bundle_dir())
    problems = loaded.verify() if verify else []  # first: describing reads the ONNX
    if problems:
        raise BundleError(f"{loaded.directory}: {len(problems)} artifact(s) fail verification: "
                          + "; ".join(problems))
    click.echo(json.dumps(describe_json(bundle), indent=2) if as_json else describe(bundle))
    if verify and not as_json:
        click.echo(f"verified: {len(loaded.manifest.artifacts)} artifacts match their sha256")


@cli.group()
def cache() -> None:
    """The per-user engine cache of TensorRT plans built on first use."""


@cache.command("list")
def cache_list() -> None:
    """List the cached TensorRT plans."""
    from fuse_trt.engine_cache import describe_cache

    click.echo("\n".join(describe_cache()))


@cache.command("clear")
def cache_clear() -> None:
    """Remove every cached TensorRT plan."""
    from fuse_trt.engine_cache import cache_root, clear_cache

    click.echo(f"removed {clear_cache()} plan(s) from {cache_root()}")


for command in (calibrate_command, bench_command, stream_command, train_command,
                export_triton_command, doctor_command):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="fuse-trt", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        click.echo(f"error: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    except ConfigError as error:  # options that do not fit together: a usage error
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    except FuseTrtError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
