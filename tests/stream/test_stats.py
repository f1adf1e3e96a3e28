"""Statistics: drops add up, rates, the JSON layout and the progress line."""
from __future__ import annotations

import io
import json

from fuse_trt.stream import ProgressLine, StatsRecorder, summary_lines


def test_counts_rates_and_json(tmp_path):
    recorder = StatsRecorder({"source": "in.avi"})
    recorder.count("frames_in", 5)
    recorder.count("decode_failures")
    recorder.count("late_drops")
    for seconds in (0.010, 0.030):
        recorder.timed("fuse", seconds)
    for _ in range(3):
        recorder.frame_written()
    recorder.finish()
    stats = recorder.snapshot()
    assert stats.drops == 2 and stats.counts["frames_out"] == 3
    assert stats.stages["fuse"].frames == 2 and abs(stats.stages["fuse"].mean_ms - 20.0) < 1e-6
    assert stats.fps > 0 and stats.sustained_fps >= stats.fps
    data = json.loads(stats.write_json(tmp_path / "stats.json").read_text())
    assert data["source"] == "in.avi" and data["drops"] == 2 and data["frames_out"] == 3
    assert data["stages"]["fuse"]["max_ms"] == 30.0
    assert set(data["stages"]) == {"decode", "detect", "fuse", "encode"}
    assert "3 frames written" in summary_lines(stats)[0]


def test_progress_line_rewrites_in_place_on_a_terminal():
    recorder = StatsRecorder()
    recorder.frame_written()
    stream = io.StringIO()
    line = ProgressLine(stream, tty=True)
    line(recorder.snapshot())
    line(recorder.snapshot())
    line.close()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n")
    assert "fps" in text and "fuse" in text and "drops 0" in text
