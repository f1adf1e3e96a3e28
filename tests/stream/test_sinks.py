"""Writing frames: codec by extension, temp file renamed at close, no output for '-'."""
from __future__ import annotations

import numpy as np
import pytest

from fuse_trt.engine.errors import FuseTrtError
from fuse_trt.stream import NullSink, VideoSink, open_sink


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mkv"])
def test_video_is_written_to_a_temp_file_and_renamed_at_close(tmp_path, kit, astronaut, suffix):
    frames = kit.pan(astronaut, 4, step=8)
    output = tmp_path / f"out{suffix}"
    sink = open_sink(output, fps=10)
    for frame in frames:
        sink.write(frame)
    assert not output.exists() and sink.temp_path.exists()
    sink.close()
    assert output.exists() and not sink.temp_path.exists()
    decoded = kit.read_video(output)
    assert len(decoded) == len(frames)
    assert np.abs(decoded[2].astype(int) - frames[2]).mean() < 6


def test_dash_writes_nothing_and_counts():
    sink = open_sink("-", fps=25)
    assert isinstance(sink, NullSink) and not isinstance(sink, VideoSink)
    sink.write(np.zeros((8, 8, 3), np.uint8))
    sink.close()
    assert sink.frames == 1


def test_unusable_outputs_are_user_errors(tmp_path):
    with pytest.raises(FuseTrtError, match="cannot write videos of type '.gif'"):
        VideoSink(tmp_path / "out.gif", 25)
    with pytest.raises(FuseTrtError, match="does not exist"):
        VideoSink(tmp_path / "missing" / "out.mp4", 25)
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(FuseTrtError, match="is a directory"):
        VideoSink(tmp_path / "dir.mp4", 25)


def test_closing_without_frames_leaves_no_file(tmp_path):
    sink = VideoSink(tmp_path / "empty.mp4", 25)
    sink.close()
    assert list(tmp_path.iterdir()) == []
