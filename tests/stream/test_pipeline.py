"""The threaded pipeline end to end: real decode and encode, every frame accounted for."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fuse_trt.api import FaceFusion, FusionConfig
from fuse_trt.engine.errors import ConfigError, FuseTrtError
from fuse_trt.stream import (Pipeline, SmoothingConfig, StreamConfig, TrackerConfig, VideoSource,
                             open_sink)


@pytest.fixture(scope="module")
def classic(grace):
    with FaceFusion(FusionConfig(refine="none")) as fusion:
        fusion.set_source(grace)
        yield fusion


def run_stream(fusion, path, output, config=StreamConfig(), progress=None):
    with VideoSource(path) as source:
        pipeline = Pipeline(fusion, source, open_sink(output, source.info.fps), config)
        return pipeline, pipeline.run(progress, interval_s=0.01)


FACE_AREA = np.s_[35:110, 145:205]  # eyes to chin in the first frames of ``mixed_video``
LEFT_OF_FACE = np.s_[:, :100]


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


def test_every_frame_is_written_or_counted(classic, mixed_video, tmp_path, kit):
    output = tmp_path / "out.avi"
    _, stats = run_stream(classic, mixed_video.path, output)
    counts = stats.counts
    assert counts["frames_in"] == len(mixed_video.frames) == 14
    assert counts["decode_failures"] == 1 and stats.drops == 1
    assert counts["frames_out"] == counts["frames_in"] - stats.drops == 13
    written = kit.read_video(output)
    assert len(written) == 13
    assert counts["no_face_frames"] == 2 and counts["fused_frames"] == 11
    # input frames 5, 6 have no face; with frame 3 skipped they are output frames 4, 5
    with VideoSource(mixed_video.path) as source:
        decoded = list(source.frames())
    for out_index, in_index in ((4, 5), (5, 6)):
        assert frame_difference(written[out_index], decoded[in_index]) < 1.5
    assert frame_difference(written[0][FACE_AREA], decoded[0][FACE_AREA]) > 8.0
    assert frame_difference(written[0][LEFT_OF_FACE], decoded[0][LEFT_OF_FACE]) < 2.5
    assert all(stage.frames > 0 for stage in stats.stages.values())
    assert stats.fps > 0 and not stats.interrupted


def test_unet_path_fuses_with_the_default_model(grace, mixed_video, tmp_path, kit):
    with FaceFusion(FusionConfig()) as fusion:
        fusion.set_source(grace)
        _, stats = run_stream(fusion, mixed_video.path, tmp_path / "unet.avi",
                              StreamConfig(max_frames=3))
    assert stats.counts["frames_in"] == 3 and stats.counts["fused_frames"] == 3
    written = kit.read_video(tmp_path / "unet.avi")
    assert len(written) == 3
    with VideoSource(mixed_video.path) as source:
        first = next(source.frames())
    assert frame_difference(written[0][FACE_AREA], first[FACE_AREA]) > 8.0
    assert frame_difference(written[0][LEFT_OF_FACE], first[LEFT_OF_FACE]) < 2.5


@pytest.mark.parametrize("choice, fused", [("all", 8), ("largest", 2)])
def test_the_stream_fuses_the_faces_its_policy_chose(grace, astronaut, tmp_path, kit, choice,
                                                     fused):
    tile = kit.crop(astronaut, 256, 200, 512, 384, size=(320, 240))
    frame = np.vstack([np.hstack([tile, tile])] * 2)
    path = kit.write_video(tmp_path / "four.avi", [frame] * 2)
    with FaceFusion(FusionConfig(refine="none", face=choice)) as fusion:
        fusion.set_source(grace)
        _, stats = run_stream(fusion, path, "-")
    assert stats.counts["faces_fused"] == fused and stats.counts["fused_frames"] == 2


def test_profile_faces_are_skipped_and_counted(classic, camera, tmp_path, kit):
    frames = [kit.crop(camera, 256, 192, 512, 384)] * 3
    path = kit.write_video(tmp_path / "profile.avi", frames)
    _, stats = run_stream(classic, path, tmp_path / "profile-out.avi")
    assert stats.counts["profile_faces"] == 3 and stats.counts["profile_only_frames"] == 3
    assert stats.counts["fused_frames"] == 0
    decoded_in = kit.read_video(path)
    written = kit.read_video(tmp_path / "profile-out.avi")
    assert frame_difference(written[1], decoded_in[1]) < 2.0


def test_every_n_tracks_in_between_and_max_frames_stops(classic, astronaut, tmp_path, kit):
    path = kit.write_video(tmp_path / "pan.avi", kit.pan(astronaut, 10, step=2))
    config = StreamConfig(max_frames=9, tracker=TrackerConfig(every=3))
    _, stats = run_stream(classic, path, "-", config)
    assert stats.counts["frames_in"] == 9 and stats.counts["frames_out"] == 9
    assert stats.counts["detections"] == 3 and stats.counts["tracked_frames"] == 6


def test_allow_profile_fuses_the_turned_faces_of_a_stream(classic, grace, camera, tmp_path,
                                                          kit):
    frames = [kit.crop(camera, 256, 192, 512, 384)] * 2
    path = kit.write_video(tmp_path / "profile.avi", frames)
    with FaceFusion(FusionConfig(refine="none", allow_profile=True)) as fusion:
        fusion.set_source(grace)
        _, stats = run_stream(fusion, path, tmp_path / "forced.avi")
    assert stats.counts["profile_faces"] == 0 and stats.counts["fused_frames"] == 2
    run_stream(classic, path, tmp_path / "kept.avi")
    forced = kit.read_video(tmp_path / "forced.avi")[1].astype(int)
    kept = kit.read_video(tmp_path / "kept.avi")[1].astype(int)
    assert (np.abs(forced - kept).sum(2) > 30).sum() > 300  # the turned face was fused


def test_stop_request_finishes_frames_in_flight_and_finalises(classic, astronaut, tmp_path, kit):
    path = kit.write_video(tmp_path / "long.avi", kit.pan(astronaut, 40, step=1))
    holder = {}

    def stop_after_two(stats):
        if stats.counts["frames_out"] >= 2:
            holder["pipeline"].request_stop()

    with VideoSource(path) as source:
        pipeline = holder["pipeline"] = Pipeline(classic, source, open_sink(
            tmp_path / "stopped.mp4", source.info.fps))
        stats = pipeline.run(stop_after_two, interval_s=0.01)
    counts = stats.counts
    assert stats.interrupted and 2 <= counts["frames_out"] < 40
    assert counts["frames_out"] == counts["frames_in"] - stats.drops
    assert len(kit.read_video(tmp_path / "stopped.mp4")) == counts["frames_out"]


def test_second_stop_request_discards_frames_in_flight(classic, astronaut, tmp_path, kit):
    path = kit.write_video(tmp_path / "long.avi", kit.pan(astronaut, 40, step=1))
    holder = {}

    def abort_after_one(stats):
        if stats.counts["frames_out"] >= 1:
            holder["pipeline"].request_stop()
            holder["pipeline"].request_stop()

    with VideoSource(path) as source:
        pipeline = holder["pipeline"] = Pipeline(
            classic, source, open_sink(tmp_path / "aborted.avi", source.info.fps),
            StreamConfig(queue_size=8))
        stats = pipeline.run(abort_after_one, interval_s=0.01)
    counts = stats.counts
    assert counts["abort_drops"] > 0 and counts["frames_out"] >= 1
    assert counts["frames_out"] == counts["frames_in"] - stats.drops
    assert len(kit.read_video(tmp_path / "aborted.avi")) == counts["frames_out"]


def test_late_frames_are_dropped_and_counted_when_asked(classic, astronaut, tmp_path, kit):
    path = kit.write_video(tmp_path / "live.avi", kit.pan(astronaut, 30, step=1))
    _, stats = run_stream(classic, path, "-", StreamConfig(drop_late=True, queue_size=1))
    late = stats.counts["late_drops"]
    assert late > 0 and stats.drops == late
    assert stats.counts["frames_out"] == stats.counts["frames_in"] - late == 30 - late


def test_a_face_index_is_refused_for_a_stream(mixed_video):
    fusion = FaceFusion(FusionConfig(refine="none", face=1))
    with VideoSource(mixed_video.path) as source, \
            pytest.raises(ConfigError, match="a face index picks one face of a still"):
        Pipeline(fusion, source, open_sink("-", 25))


def test_stats_json_matches_the_counts(classic, mixed_video, tmp_path):
    _, stats = run_stream(classic, mixed_video.path, "-", StreamConfig(max_frames=4))
    data = json.loads(stats.write_json(tmp_path / "stats.json").read_text())
    assert data["frames_out"] == data["frames_in"] - data["drops"] == 3
    assert data["decode_failures"] == 1 and data["source_kind"] == "file"


class RecordingSink:
    """Keeps every frame it is given, as RGB."""

    path = None

    def __init__(self):
        self.frames = []

    def write(self, frame, bgr=False):
        self.frames.append(frame[:, :, ::-1].copy() if bgr else frame.copy())

    def close(self):
        pass


def test_the_stream_writes_exactly_what_the_api_fuses(grace, astronaut, tmp_path, kit):
    # The stream keeps frames BGR and converts only the face regions: the pixels must be
    # those of the RGB API on the same decoded frames.
    path = kit.write_video(tmp_path / "pan.avi", kit.pan(astronaut, 3, step=3))
    with FaceFusion(FusionConfig(blend="unet", face="all")) as fusion, \
            VideoSource(path) as source:
        fusion.set_source(grace)
        sink = RecordingSink()
        raw_faces = TrackerConfig(smoothing=SmoothingConfig(enabled=False))
        Pipeline(fusion, source, sink, StreamConfig(tracker=raw_faces)).run()
        with VideoSource(path) as again:
            expected = [fusion.fuse(frame) for frame in again.frames()]
    assert len(sink.frames) == len(expected) == 3
    for written, fused in zip(sink.frames, expected):
        np.testing.assert_array_equal(written, fused)
