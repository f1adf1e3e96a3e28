"""`fuse-trt bench`: latency and memory per tier against the plain PyTorch path."""
from __future__ import annotations

from pathlib import Path

import click

from fuse_trt.engine.errors import FuseTrtError


def _names(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    return names or None


def _edges(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        return tuple(int(part) for part in value.split(",") if part.strip()) or None
    except ValueError:
        raise click.BadParameter(f"expected short edges such as 512,768,1024, got {value!r}",
                                 param_hint="--tiers") from None


@click.command("bench")
@click.option("--bundle", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Bundle from `fuse-trt build`; default: the model shipped in the package.")
@click.option("--backends", default=None,
              help="Comma-separated: tensorrt,onnxruntime,openvino,torch. Default: every "
              "installed one (openvino: the peer row on the bundle's FP32 ONNX).")
@click.option("--precisions", default=None,
              help="Comma-separated: fp32,fp16,int8. Default: every precision the bundle "
              "holds for each backend.")
@click.option("--tiers", default=None, help="Tier short edges, e.g. 512,768,1024. Default: all.")
@click.option("--warmup-ms", type=click.FloatRange(0), default=500.0, show_default=True,
              help="Untimed warm-up per case.")
@click.option("--duration-s", type=click.FloatRange(0), default=10.0, show_default=True,
              help="Measured time each case accumulates, at least.")
@click.option("--min-iters", type=click.IntRange(1), default=10, show_default=True,
              help="Measured iterations per case, at least.")
@click.option("--slice-ms", type=click.FloatRange(1), default=250.0, show_default=True,
              help="Time a case runs per interleaved round (at least one iteration).")
@click.option("--slice-warmup-iters", type=click.IntRange(0), default=1, show_default=True,
              help="Untimed iterations opening each slice, so every timed one follows its own "
              "runtime's (not another runtime's spinning threads).")
@click.option("--batch", type=click.IntRange(1), default=1, show_default=True,
              help="Batch of the model-only measurement (the fusion always has one face).")
@click.option("--stability-fusions", type=click.IntRange(0), default=0, show_default=True,
              help="Consecutive fusions cycling all tiers for the memory-stability check "
              "(0: skip; the issue's check uses 1000).")
@click.option("--stability-tolerance-mib", type=click.FloatRange(0), default=16.0,
              show_default=True, help="Largest RSS drift after warm-up that counts as flat.")
@click.option("--memory/--no-memory", default=True, show_default=True,
              help="Measure memory in a fresh process per backend, precision and tier.")
@click.option("--e2e/--no-e2e", "end_to_end", default=True, show_default=True,
              help="Also time the end-to-end fusion on the sample photos.")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Write the report as JSON here.")
@click.option("--markdown", "markdown_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Write the Markdown table here.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Write a PNG chart (latency and memory per tier) here.")
@click.option("--openvino-original", "openvino_original",
              type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="ONNX of the graph before fuse-trt's export rewrites, with the bundle's "
              "input/output names: adds an openvino-original row (OpenVINO FP32) on it.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def bench_command(bundle: Path | None, backends: str | None, precisions: str | None,
                  tiers: str | None, warmup_ms: float, duration_s: float, min_iters: int,
                  slice_ms: float, slice_warmup_iters: int, batch: int, stability_fusions: int,
                  stability_tolerance_mib: float, memory: bool, end_to_end: bool,
                  json_path: Path | None, markdown_path: Path | None, plot_path: Path | None,
                  openvino_original: Path | None, quiet: bool) -> None:
    """Latency (model-only and end-to-end) and memory per tier, every backend side by side."""
    from fuse_trt.bench import BenchConfig, TimingConfig, run_benchmark
    from fuse_trt.bench.report import to_markdown, write_json, write_markdown, write_plot
    from fuse_trt.engine.files import check_output_file

    for path in (json_path, markdown_path, plot_path):
        if path is not None:
            check_output_file(path)
    config = BenchConfig(
        bundle=bundle, backends=_names(backends), precisions=_names(precisions),
        tiers=_edges(tiers), batch=batch,
        timing=TimingConfig(warmup_ms=warmup_ms, duration_s=duration_s, min_iters=min_iters,
                            slice_ms=slice_ms, slice_warmup_iters=slice_warmup_iters),
        end_to_end=end_to_end, memory=memory, stability_fusions=stability_fusions,
        stability_tolerance_mib=stability_tolerance_mib, progress=not quiet,
        openvino_original_onnx=openvino_original)
    report = run_benchmark(config)
    if json_path:
        write_json(report, json_path)
    if markdown_path:
        write_markdown(report, markdown_path)
    if plot_path:
        write_plot(report, plot_path)
    click.echo(to_markdown(report))
