"""`fuse-trt stream` from the command line, and Ctrl-C / SIGTERM finalising the output."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fuse_trt.cli import main as run_cli


def test_stream_writes_video_summary_and_json(mixed_video, tmp_path, kit, capsys):
    output, stats_path = tmp_path / "out.avi", tmp_path / "stats.json"
    run_cli(["stream", "--source", "sample:grace_hopper", str(mixed_video.path), "-o",
             str(output), "--refine", "none", "--every", "2", "--json", str(stats_path)])
    printed = capsys.readouterr().out
    assert "13 frames written" in printed and "dropped 1" in printed and "ms per frame" in printed
    stats = json.loads(stats_path.read_text())
    assert stats["frames_out"] == len(kit.read_video(output)) == 13
    assert stats["every"] == 2 and stats["refine"] == "none" and stats["tracked_frames"] > 0
    assert stats["composite"] == "colour" and stats["backend"] == "none"


@pytest.mark.parametrize("args, message", [
    (["--face", "1"], "--face 1: a face index picks one face of a still"),
    (["--refine", "none", "--backend", "onnxruntime"],
     "--backend chooses how the UNet runs, but --refine none runs no UNet"),
    (["--blend", "classic", "--precision", "int8"],
     "--precision chooses how the UNet runs, but --refine none runs no UNet"),
    (["--blend", "unet", "--composite", "seamless"], "--blend is the deprecated form"),
])
def test_options_without_effect_are_usage_errors(mixed_video, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["stream", "--source", "sample:grace_hopper", str(mixed_video.path), "-o", "-",
                 *args])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error == f"error: {message}" or (message in error and "\n" not in error)


@pytest.mark.parametrize("args, message", [
    (["missing.mp4", "-o", "-"], "video file not found"),
    (["{video}", "-o", "out.gif"], "cannot write videos of type '.gif'"),
    (["{video}", "-o", "-", "--face", "left"], "face must be largest, all or an index"),
])
def test_user_errors_print_one_line(mixed_video, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    args = [arg.format(video=mixed_video.path) for arg in args]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["stream", "--source", "sample:grace_hopper", *args])
    assert exit_info.value.code != 0
    error = capsys.readouterr().err.strip()
    assert message in error and error.startswith("error:") and "\n" not in error


@pytest.fixture(scope="module")
def long_video(tmp_path_factory, astronaut, kit):
    frames = kit.pan(astronaut, 40, step=1) * 10
    return kit.write_video(tmp_path_factory.mktemp("long") / "long.avi", frames, fps=25)


def wait_for_frames(directory, process, timeout_s: float = 30.0) -> None:
    """Until the encoder's temp file holds some frames (the handlers are in place by then)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        partial = [p for p in directory.iterdir() if ".partial" in p.name]
        if partial and partial[0].stat().st_size > 0:
            return
        time.sleep(0.05)
    pytest.fail("the stream wrote no frames in time")


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_finalises_a_playable_output(long_video, tmp_path, kit, signum, code):
    output, stats_path = tmp_path / "out.mp4", tmp_path / "stats.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "fuse_trt.cli", "stream", "--source", "sample:grace_hopper", str(long_video),
         "-o", str(output), "--blend", "classic", "--json", str(stats_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    wait_for_frames(tmp_path, process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert f"stopped by {signal.Signals(signum).name}; output finalised" in err
    stats = json.loads(stats_path.read_text())
    assert stats["interrupted"] and 0 < stats["frames_out"] < 400
    assert stats["frames_out"] == stats["frames_in"] - stats["drops"]
    assert len(kit.read_video(output)) == stats["frames_out"]
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]
