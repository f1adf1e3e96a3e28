"""`fuse-trt stream`: fuse a source face into every frame of a video, camera or pipeline."""
from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fuse_trt.commands.targeting import targeting_options
from fuse_trt.engine.choices import BackendName, Blend, FaceChoice, Precision, values

if TYPE_CHECKING:
    from fuse_trt.api import FusionConfig
    from fuse_trt.stream import StreamConfig, StreamStats

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _check_face_choice(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if value not in values(FaceChoice) and not value.isdigit():
        raise click.BadParameter(f"expected largest, all or an index, got {value!r}")
    return value


@click.command("stream")
@click.argument("input_spec", metavar="INPUT")
@click.option("--source", "source_face", default=None,
              help="Image with the face to paste (a path or sample:NAME); not with --map.")
@click.option("-o", "--output", required=True,
              help="Output video (.mp4, .avi, .mkv, .mov, .webm), or - for none. Written to a "
              "temp file and renamed when finished, Ctrl-C and SIGTERM included.")
@click.option("--bundle", type=click.Path(path_type=Path), default=None,
              help="Bundle from `fuse-trt build`; default: the model shipped in the package.")
@click.option("--backend", type=click.Choice(values(BackendName)),
              default=BackendName.AUTO.value,
              show_default=True)
@click.option("--precision", type=click.Choice(values(Precision)), default=None,
              help="Default: fp16 on TensorRT, fp32 on ONNX Runtime and torch.")
@click.option("--url", default=None, metavar="HOST:PORT",
              help="With --backend triton: the server (grpc://HOST:PORT for gRPC).")
@click.option("--blend", type=click.Choice(values(Blend)), default=Blend.CLASSIC.value,
              show_default=True, help="classic: colour transfer + feathered paste; unet: the "
              "trained refiner (docs/quality.md); seamless: OpenCV Poisson blending.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None,
              help="Stop after this many input frames.")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run the detector every N frames; track landmarks in between.")
@click.option("--face", "face_choice", default="largest", show_default=True,
              callback=_check_face_choice,
              help="Which faces: largest, all, or an index (largest first).")
@targeting_options
@click.option("--smooth/--no-smooth", default=True, show_default=True,
              help="Smooth landmarks across frames (One Euro filter).")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Also write the statistics to this JSON file.")
@click.option("--progress/--no-progress", default=None,
              help="Live progress line on stderr [default: when stderr is a terminal].")
def stream_command(input_spec: str, source_face: str, output: str, bundle: Path | None,
                   backend: str, precision: str, url: str | None, blend: str,
                   max_frames: int | None, every: int,
                   face_choice: str, target_face: str | None, mapping: tuple,
                   similarity: float, smooth: bool, json_path: Path | None,
                   progress: bool | None) -> None:
    """Fuse the face in --source into every frame of INPUT: a video file, a camera index or an
    OpenCV capture string (e.g. a GStreamer pipeline). Frames without a face pass through."""
    from fuse_trt.api import FusionConfig
    from fuse_trt.engine.errors import FuseTrtError
    from fuse_trt.stream import SmoothingConfig, StreamConfig, TrackerConfig, summary_lines

    if json_path is not None and not json_path.parent.is_dir():
        raise FuseTrtError(f"{json_path}: directory {json_path.parent} does not exist")
    targeting = (source_face, target_face, mapping, similarity)
    config = StreamConfig(face=face_choice, max_frames=max_frames, tracker=TrackerConfig(
        every=every, smoothing=SmoothingConfig(enabled=smooth)))
    fusion_config = FusionConfig(bundle=bundle, backend=backend, precision=precision, url=url,
                                 blend=blend, face=FaceChoice.ALL)
    info = {"blend": blend, "precision": precision, "face": face_choice, "every": every,
            "smooth": smooth}
    stats, received = _run(input_spec, output, targeting, fusion_config, config, info, progress)
    for text in summary_lines(stats):
        click.echo(text)
    if json_path is not None:
        stats.write_json(json_path)
    if received:
        click.echo(f"stopped by {signal.Signals(received[0]).name}; output finalised", err=True)
        sys.exit(EXIT_CODES.get(received[0], 1))


def _run(input_spec: str, output: str, targeting: tuple, fusion_config: FusionConfig,
         config: StreamConfig, info: dict, progress: bool | None) -> tuple[StreamStats, list[int]]:
    """Open everything, run the pipeline with Ctrl-C/SIGTERM as stop requests, close."""
    from fuse_trt.api import FaceFusion
    from fuse_trt.commands.targeting import apply_targeting
    from fuse_trt.stream import Pipeline, ProgressLine, VideoSource, open_sink, stop_on_signals

    with VideoSource(input_spec) as video, FaceFusion(fusion_config) as fusion:
        sink = open_sink(output, video.info.fps)
        apply_targeting(fusion, *targeting)
        pipeline = Pipeline(fusion, video, sink, config)
        backend = fusion.backend.name if fusion.backend is not None else "none"
        pipeline.stats.info.update(info, backend=backend)
        line = ProgressLine(sys.stderr, tty=progress) if progress is not False else None
        with stop_on_signals(pipeline.request_stop) as received:
            stats = pipeline.run(line)
        if line is not None:
            line.close()
    return stats, received
