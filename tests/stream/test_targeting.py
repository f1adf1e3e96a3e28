"""Reference-face targeting: --map sources onto the people in reference photos, held per
track in a stream, on a generated clip in which two faces cross."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fuse_trt.api import FaceFusion, FusionConfig
from fuse_trt.engine.faces import FaceDetector
from fuse_trt.engine.faces.assignment import TrackAssignment, assign
from fuse_trt.stream import Pipeline, StreamConfig, VideoSource
from fuse_trt.stream.sinks import NullSink
from tests.stream.conftest import write_video

FRAME = (640, 400)  # (w, h)
FACE = 150  # px, the side of each moving face crop
FRAMES = 24


def face_crop(photo: np.ndarray) -> np.ndarray:
    x, y, w, h = FaceDetector().detect(photo)[0].box
    cx, cy, side = x + w / 2, y + h / 2, 1.7 * max(w, h)
    x0, y0 = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
    window = photo[y0:y0 + int(side), x0:x0 + int(side)]
    return cv2.resize(window, (FACE, FACE), interpolation=cv2.INTER_AREA)


def crossing_frames(top: np.ndarray, bottom: np.ndarray) -> list[np.ndarray]:
    """``top`` moves left to right along the top row while ``bottom`` moves right to left
    along the bottom row: they pass each other (the horizontal order swaps) mid-clip."""
    width, height = FRAME
    start, end = 10, width - FACE - 10
    frames = []
    for x in np.linspace(start, end, FRAMES).astype(int):
        frame = np.full((height, width, 3), 90, np.uint8)
        frame[30:30 + FACE, x:x + FACE] = top
        frame[210:210 + FACE, start + end - x:start + end - x + FACE] = bottom
        frames.append(frame)
    return frames


def test_assign_is_global_and_drops_weak_pairs():
    similarity = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert assign(similarity) == {1: 0, 0: 1}  # greedy would give face 0 to ref 0
    assert assign(np.array([[0.2, 0.3]])) == {}


def test_a_track_keeps_its_reference_while_it_lives():
    references = np.eye(2, 4, dtype=np.float32)
    assignment = TrackAssignment(references)
    calls = []

    def embed(track):
        calls.append(track)
        return references[{7: 0, 8: 1}[track]]

    assert assignment.update([7, 8], embed) == {7: 0, 8: 1}
    assert assignment.update([7, 8], lambda track: pytest.fail("re-embedded")) == {7: 0, 8: 1}
    assert assignment.update([8], embed) == {8: 1}  # 7 ended; 8 keeps its reference
    assert assignment.update([8, 9], lambda track: references[0]) == {8: 1, 9: 0}
    assert calls == [7, 8]


@pytest.fixture(scope="module")
def crossing_clip(tmp_path_factory, astronaut, grace):
    frames = crossing_frames(face_crop(astronaut), face_crop(grace))
    return write_video(tmp_path_factory.mktemp("crossing") / "crossing.avi", frames)


def test_two_crossing_faces_keep_their_sources_every_frame(crossing_clip, astronaut, grace,
                                                           camera):
    """Source 0 (camera) goes on the astronaut, source 1 (grace) on Grace Hopper, in every
    frame, although the left-to-right order of the two faces swaps mid-clip."""
    records = []
    with FaceFusion(FusionConfig(face="all")) as fusion:
        fusion.set_mapping([(camera, astronaut), (grace, grace)])
        with VideoSource(str(crossing_clip)) as video:
            pipeline = Pipeline(fusion, video, NullSink(), StreamConfig(face="all"))
            assign_frame = pipeline._assign

            def recorded(item, faces):
                pairs = assign_frame(item, faces)
                records.append((item.index, {face.track: (source, face.box[1] < 180)
                                             for face, source in pairs}))
                return pairs

            pipeline._assign = recorded
            stats = pipeline.run()
    assert stats.counts["frames_in"] == FRAMES
    assert stats.counts["faces_fused"] == 2 * FRAMES
    assert [index for index, _ in records] == list(range(FRAMES))
    for index, tracks in records:
        assert sorted(source for source, _ in tracks.values()) == [0, 1], (index, tracks)
        for source, on_top in tracks.values():
            assert on_top == (source == 0), (index, tracks)  # astronaut on top, source 0
    assert len({track for _, tracks in records for track in tracks}) == 2  # no re-tracking
    print("\n".join(f"frame {index}: " + ", ".join(
        f"track {track} -> source {source} ({'top' if top else 'bottom'})"
        for track, (source, top) in sorted(tracks.items())) for index, tracks in records))


def test_target_face_fuses_only_the_matching_person(astronaut, grace, camera):
    frame = crossing_frames(face_crop(astronaut), face_crop(grace))[0]
    with FaceFusion(FusionConfig()) as fusion:
        fusion.set_source(camera)
        fusion.set_target_face(grace)
        fused = fusion.fuse(frame)
    changed = np.abs(fused.astype(int) - frame.astype(int)).sum(axis=2) > 20
    assert changed[:200].sum() == 0  # the astronaut (top row) is left alone
    assert changed[210:].sum() > 500  # Grace Hopper (bottom row) got the source
