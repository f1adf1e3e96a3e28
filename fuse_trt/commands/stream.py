"""`fuse-trt stream`: fuse a source face into every frame of a video, camera or pipeline."""
from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fuse_trt.commands.fusion_options import fusion_config as make_fusion_config
from fuse_trt.commands.fusion_options import fusion_options
from fuse_trt.commands.targeting import targeting_options

if TYPE_CHECKING:
    from fuse_trt.api import FusionConfig
    from fuse_trt.stream import StreamConfig, StreamStats

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


@click.command("stream")
@click.argument("input_spec", metavar="INPUT")
@click.option("--source", "source_face", default=None,
              help="Image with the face to paste (a path or sample:NAME); not with --map.")
@click.option("-o", "--output", required=True,
              help="Output video (.mp4, .avi, .mkv, .mov, .webm), or - for none. Written to a "
              "temp file and renamed when finished, Ctrl-C and SIGTERM included.")
@fusion_options
@click.option("--max-frames", type=click.IntRange(min=1), default=None,
              help="Stop after this many input frames.")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run the detector every N frames; track landmarks in between.")
@targeting_options
@click.option("--smooth/--no-smooth", default=True, show_default=True,
              help="Smooth landmarks across frames (One Euro filter).")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Also write the statistics to this JSON file.")
@click.option("--progress/--no-progress", default=None,
              help="Live progress line on stderr [default: when stderr is a terminal].")
@click.pass_context
def stream_command(ctx: click.Context, input_spec: str, source_face: str | None, output: str,
                   max_frames: int | None, every: int, target_face: str | None, mapping: tuple,
                   similarity: float, smooth: bool, json_path: Path | None,
                   progress: bool | None, **options) -> None:
    """Fuse the face in --source into every frame of INPUT: a video file, a camera index or an
    OpenCV capture string (e.g. a GStreamer pipeline). Frames without a face, and faces
    turned past the yaw threshold, pass through (counted in the statistics)."""
    from fuse_trt.engine.errors import FuseTrtError
    from fuse_trt.engine.files import check_output_file
    from fuse_trt.stream import SmoothingConfig, StreamConfig, TrackerConfig, summary_lines
    from fuse_trt.stream.pipeline import STREAM_INDEX_ERROR
    from fuse_trt.stream.sinks import NO_OUTPUT, check_output_path

    if isinstance(options["face_choice"], int):
        raise click.UsageError(f"--face {options['face_choice']}: {STREAM_INDEX_ERROR}")
    fusion_config = make_fusion_config(ctx, **options)
    if json_path is not None:
        check_output_file(json_path)
    if output != NO_OUTPUT:
        check_output_path(Path(output))
    targeting = (source_face, target_face, mapping, similarity)
    config = StreamConfig(max_frames=max_frames, tracker=TrackerConfig(
        every=every, smoothing=SmoothingConfig(enabled=smooth)))
    info = {"composite": fusion_config.composite, "refine": fusion_config.refine,
            "face": fusion_config.face, "allow_profile": fusion_config.allow_profile,
            "every": every, "smooth": smooth}
    stats, received, short_read = _run(input_spec, output, targeting, fusion_config, config,
                                       info, progress)
    for text in summary_lines(stats):
        click.echo(text)
    if json_path is not None:
        stats.write_json(json_path)
    if received:
        click.echo(f"stopped by {signal.Signals(received[0]).name}; output finalised", err=True)
        sys.exit(EXIT_CODES.get(received[0], 1))
    if short_read is not None:
        raise FuseTrtError(f"{short_read}; the output holds the frames read")


def _run(input_spec: str, output: str, targeting: tuple, fusion_config: FusionConfig,
         config: StreamConfig, info: dict,
         progress: bool | None) -> tuple[StreamStats, list[int], str | None]:
    """Open everything, run the pipeline with Ctrl-C/SIGTERM as stop requests, close."""
    from fuse_trt.api import FaceFusion
    from fuse_trt.commands.targeting import apply_targeting
    from fuse_trt.stream import Pipeline, ProgressLine, VideoSource, open_sink, stop_on_signals
    from fuse_trt.stream.log_once import warnings_once_per_run

    with VideoSource(input_spec) as video, FaceFusion(fusion_config) as fusion:
        sink = open_sink(output, video.info.fps)
        apply_targeting(fusion, *targeting)
        pipeline = Pipeline(fusion, video, sink, config)
        selection = fusion.selection
        pipeline.stats.info.update(
            info, backend=selection.name if selection else "none",
            precision=selection.precision if selection else "none")
        show = sys.stderr.isatty() if progress is None else progress
        line = ProgressLine(sys.stderr) if show else None
        with stop_on_signals(pipeline.request_stop) as received, warnings_once_per_run():
            stats = pipeline.run(line)
        if line is not None:
            line.close()
    return stats, received, video.short_read()
