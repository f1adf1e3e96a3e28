"""FaceFusion, the Python API: batching per tier, threads, two-input models, regions."""
import threading

import numpy as np
import pytest

from fuse_trt import FaceFusion, FusionConfig
from fuse_trt.engine.faces import load_sample
from fuse_trt.engine.errors import FuseTrtError


@pytest.fixture(scope="module")
def source():
    return load_sample("grace_hopper")


@pytest.fixture(scope="module")
def two_face_frame():
    face = load_sample("astronaut")
    return np.hstack([face, face])


def count_infer_calls(backend):
    calls = []
    original = backend.infer

    def recording_infer(tier, feed):
        calls.append((getattr(tier, "name", tier), next(iter(feed.values())).shape[0]))
        return original(tier, feed)

    backend.infer = recording_infer
    return calls


def test_faces_in_the_same_tier_share_one_batch(source, two_face_frame):
    with FaceFusion(FusionConfig(face="all", backend="onnxruntime", blend="unet")) as fusion:
        fusion.set_source(source)
        calls = count_infer_calls(fusion.backend)
        fused = fusion.fuse(two_face_frame)
    assert calls == [("512", 2)]
    width = two_face_frame.shape[1] // 2
    for half in (slice(0, width), slice(width, None)):
        changed = np.abs(fused[:, half].astype(int) - two_face_frame[:, half].astype(int)).sum(2)
        assert (changed > 30).sum() > 2000


def test_largest_and_index_pick_one_face(source, two_face_frame):
    for choice in ("largest", "1"):
        with FaceFusion(FusionConfig(face=choice, blend="classic")) as fusion:
            fusion.set_source(source)
            fused = fusion.fuse(two_face_frame)
        changed = np.abs(fused.astype(int) - two_face_frame.astype(int)).sum(2) > 30
        halves = changed[:, :256].sum(), changed[:, 512:].sum()
        assert min(halves) == 0 and max(halves) > 2000


def test_fuse_from_a_worker_thread_matches_the_main_thread(source):
    target = load_sample("astronaut")
    with FaceFusion(FusionConfig(blend="unet")) as fusion:
        fusion.set_source(source)
        expected = fusion.fuse(target)
        results = []
        worker = threading.Thread(target=lambda: results.append(fusion.fuse(target)))
        worker.start()
        worker.join()
    np.testing.assert_array_equal(results[0], expected)


def test_two_input_model_runs_through_the_pipeline(tiny_identity_bundle, source):
    config = FusionConfig(bundle=tiny_identity_bundle.directory, backend="onnxruntime",
                          blend="unet")
    with FaceFusion(config) as fusion:
        fusion.set_source(source)
        assert fusion._source.identity.shape == (128,)
        fused = fusion.fuse(load_sample("astronaut"))
    assert fused.shape == load_sample("astronaut").shape


def test_frame_region_runs_the_whole_frame(source):
    target = load_sample("astronaut")
    with FaceFusion(FusionConfig(region="frame", blend="unet")) as fusion:
        fusion.set_source(source)
        calls = count_infer_calls(fusion.backend)
        fused = fusion.fuse(target)
    assert calls == [("768", 1)]  # 512x512 frame -> the 768 tier
    assert fused.shape == target.shape


def test_frames_without_a_face_pass_through_when_allowed(source):
    wall = np.full((240, 320, 3), 90, np.uint8)
    with FaceFusion(FusionConfig(blend="classic")) as fusion:
        fusion.set_source(source)
        assert np.array_equal(fusion.fuse(wall, require_face=False), wall)


def test_config_rejects_nonsense():
    with pytest.raises(FuseTrtError, match="ratio"):
        FusionConfig(ratio=1.5)
    with pytest.raises(FuseTrtError, match="blend"):
        FusionConfig(blend="magic")
    with pytest.raises(FuseTrtError, match="set_source"):
        FaceFusion(FusionConfig(blend="classic")).fuse(load_sample("astronaut"))


@pytest.fixture(scope="module")
def group_photo():
    """Six frontal faces (the two sample photos, mirrored too) in a 2 x 3 grid."""
    import cv2

    astronaut = cv2.resize(load_sample("astronaut"), (384, 384))
    grace = cv2.resize(load_sample("grace_hopper"), (384, 384))
    rows = [np.hstack([astronaut, grace, astronaut[:, ::-1]]),
            np.hstack([grace[:, ::-1], astronaut, grace])]
    return np.ascontiguousarray(np.vstack(rows))


def test_more_faces_than_a_tier_batch_are_split_never_refused(tmp_path, tiny_bundle, source,
                                                             group_photo):
    import shutil
    from dataclasses import replace

    from fuse_trt.engine.bundle import Bundle

    bundle = Bundle.load(shutil.copytree(tiny_bundle.directory, tmp_path / "bundle"))
    narrow = replace(bundle.tiers, tiers=tuple(replace(t, max_batch=2) for t in bundle.tiers))
    replace(bundle, manifest=replace(bundle.manifest, tiers=narrow)).save()
    config = FusionConfig(bundle=bundle.directory, face="all", backend="onnxruntime",
                          blend="unet")
    with FaceFusion(config) as fusion:
        fusion.set_source(source)
        faces = fusion.detector.detect(group_photo)
        calls = count_infer_calls(fusion.backend)
        fused = fusion.fuse(group_photo, faces=faces)
    assert len(faces) == 6
    assert sorted(batch for _, batch in calls) == [2, 2, 2]  # three calls of the tier's batch
    for face in faces:
        x, y, w, h = (int(v) for v in face.box)
        inside = np.abs(fused[y:y + h, x:x + w].astype(int) - group_photo[y:y + h, x:x + w]).sum(2)
        assert (inside > 30).mean() > 0.2, f"face at {(x, y)} was not fused"
