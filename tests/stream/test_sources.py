"""Reading frames: real MJPG decode, one corrupted frame skipped and reported, errors."""
from __future__ import annotations

import numpy as np
import pytest

from fuse_trt.engine.errors import FuseTrtError
from fuse_trt.stream import VideoSource


def test_corrupted_frame_is_reported_and_the_stream_goes_on(mixed_video):
    with VideoSource(mixed_video.path) as source:
        assert source.info.kind == "file" and not source.info.live
        assert (source.info.width, source.info.height) == (320, 240)
        frames = list(source.frames())
    assert len(frames) == len(mixed_video.frames)
    assert [i for i, frame in enumerate(frames) if frame is None] == [mixed_video.corrupt]
    for frame, written in zip(frames, mixed_video.frames):
        if frame is not None:  # RGB order kept through encode + decode (JPEG tolerance)
            assert np.abs(frame.astype(int) - written).mean() < 4


def test_missing_file_and_directory_are_user_errors(tmp_path):
    with pytest.raises(FuseTrtError, match="not found"):
        VideoSource(tmp_path / "missing.mp4")
    with pytest.raises(FuseTrtError, match="directory"):
        VideoSource(tmp_path)


def test_unopenable_capture_string_is_a_user_error():
    with pytest.raises(FuseTrtError, match="cannot open"):
        VideoSource("nosuchscheme://nowhere")


def test_capture_string_is_opened_as_a_live_source(mixed_video):
    with VideoSource(mixed_video.path.as_uri()) as source:
        assert source.info.kind == "capture" and source.info.live
        assert source.info.frame_count is None
        assert sum(frame is not None for frame in source.frames()) == len(mixed_video.frames) - 1
