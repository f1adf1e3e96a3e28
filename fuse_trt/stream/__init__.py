"""Video and camera pipelines: decode -> detect -> fuse -> encode on threads.

    with VideoSource("in.mp4") as video, FaceFusion(FusionConfig(face="all")) as fusion:
        fusion.set_source(face_rgb)
        stats = Pipeline(fusion, video, open_sink("out.mp4", video.info.fps)).run()
"""
from fuse_trt.stream.pipeline import Pipeline, StreamConfig
from fuse_trt.stream.progress import ProgressLine
from fuse_trt.stream.signals import stop_on_signals
from fuse_trt.stream.sinks import CODECS, NullSink, VideoSink, open_sink
from fuse_trt.stream.sources import SourceInfo, VideoSource
from fuse_trt.stream.stats import StageTime, StatsRecorder, StreamStats, summary_lines
from fuse_trt.stream.tracking import FaceTracker, OneEuroFilter, SmoothingConfig, TrackerConfig

__all__ = [
    "CODECS", "FaceTracker", "NullSink", "OneEuroFilter", "Pipeline", "ProgressLine",
    "SmoothingConfig", "SourceInfo", "StageTime", "StatsRecorder", "StreamConfig",
    "StreamStats", "TrackerConfig", "VideoSink", "VideoSource", "open_sink",
    "stop_on_signals", "summary_lines",
]
