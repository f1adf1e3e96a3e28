"""FaceFusion, the Python API: batching per tier, threads, two-input models, regions."""
import threading

import numpy as np
import pytest

from fuse_trt import FaceFusion, FusionConfig
from fuse_trt.engine.faces import load_sample
from fuse_trt.engine.errors import FuseTrtError
from tests.conftest import tiny_tiers


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


@pytest.fixture(scope="module")
def small_then_large_frame():
    """A half-size astronaut on the left, the full-size one on the right."""
    face = load_sample("astronaut")
    small = np.full_like(face, 128)
    small[128:384, 128:384] = face[::2, ::2]
    return np.hstack([small, face])


def test_largest_picks_the_bigger_of_two_faces_of_different_sizes(source, small_then_large_frame):
    frame = small_then_large_frame
    with FaceFusion(FusionConfig(face="all", blend="classic")) as fusion:
        fusion.set_source(source)
        faces = fusion.detector.detect(frame)
    widths = sorted(face.box[2] for face in faces)
    assert len(faces) == 2 and widths[1] > 1.6 * widths[0]  # really two sizes
    with FaceFusion(FusionConfig(face="largest", blend="classic")) as fusion:
        fusion.set_source(source)
        fused = fusion.fuse(frame)
    changed = np.abs(fused.astype(int) - frame.astype(int)).sum(2) > 30
    assert changed[:, :512].sum() == 0  # the small face is left alone
    assert changed[:, 512:].sum() > 2000  # the large one is fused


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


def fuse_on(backend, source, target, blend="unet", **config):
    if blend == "classic":  # no UNet runs: choosing a backend would be a conflict
        config = {key: value for key, value in config.items() if key != "region"}
        fusion_config = FusionConfig(composite="colour", refine="none", **config)
    else:
        fusion_config = FusionConfig(backend=backend, blend=blend, **config)
    with FaceFusion(fusion_config) as fusion:
        fusion.set_source(source)
        calls = count_infer_calls(fusion.backend) if fusion.backend else []
        return fusion.fuse(target), calls, fusion


def assert_fused_like_the_other_backend(onnxruntime, torch, classic, target):
    """ONNX Runtime and PyTorch run the same UNet: the frames agree to rounding, the UNet's
    output (not just the classical composite) reached the frame, the face really changed,
    and pixels far from the face keep the target's values."""
    assert np.abs(onnxruntime.astype(int) - torch.astype(int)).max() <= 1
    assert (np.abs(onnxruntime.astype(int) - classic.astype(int)).sum(2) > 6).sum() > 500
    changed = np.abs(onnxruntime.astype(int) - target.astype(int)).sum(2)
    assert (changed > 30).sum() > 2000
    assert changed[-40:, :].max() == 0 and changed[:, :40].max() == 0


def test_two_input_model_runs_through_the_pipeline(tiny_identity_bundle, source):
    target = load_sample("astronaut")
    bundle = tiny_identity_bundle.directory
    fused, _, fusion = fuse_on("onnxruntime", source, target, bundle=bundle)
    assert fusion._source.identity.shape == (128,)
    reference, _, _ = fuse_on("torch", source, target, bundle=bundle)
    classic, _, _ = fuse_on("onnxruntime", source, target, "classic", bundle=bundle)
    assert_fused_like_the_other_backend(fused, reference, classic, target)


def test_frame_region_runs_the_whole_frame(source):
    target = load_sample("astronaut")
    fused, calls, _ = fuse_on("onnxruntime", source, target, region="frame")
    assert calls == [("768", 1)]  # 512x512 frame -> the 768 tier
    reference, torch_calls, _ = fuse_on("torch", source, target, region="frame")
    assert torch_calls == calls
    classic, _, _ = fuse_on("onnxruntime", source, target, "classic", region="frame")
    assert_fused_like_the_other_backend(fused, reference, classic, target)


def white_bundle(directory, spec):
    """A bundle whose "UNet" outputs white (1.0) whatever it is fed: known output pixels."""
    import onnx
    from onnx import TensorProto, helper

    from fuse_trt.engine.bundle import Bundle, Manifest

    inputs = [helper.make_tensor_value_info(t.name, TensorProto.FLOAT,
                                            ["N", t.channels, "H", "W"] if t.layout == "image"
                                            else ["N", t.channels]) for t in spec.inputs]
    output = helper.make_tensor_value_info("fused", TensorProto.FLOAT, ["N", 3, "H", "W"])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    nodes = [helper.make_node("Mul", ["composite", "zero"], ["nothing"]),
             helper.make_node("Add", ["nothing", "one"], ["fused"])]
    graph = helper.make_graph(nodes, "white", inputs, [output], initializer=[zero, one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(model, directory / "model.onnx")
    bundle = Bundle(directory, Manifest(spec=spec, tiers=tiny_tiers(spec.stride)))
    return bundle.add_artifact(directory / "model.onnx", "onnx", "fp32")


@pytest.mark.parametrize("region", ["face", "frame"])
def test_the_unet_output_is_what_gets_pasted(tmp_path, source, tiny_identity_bundle, region):
    """A model that outputs white: the face centre (full paste weight) must come out 255
    exactly and far pixels must keep the target; a pipeline that pasted the composite, or
    lost the model's output anywhere between infer and paste, fails."""
    target = load_sample("astronaut")
    bundle = white_bundle(tmp_path / "white", tiny_identity_bundle.spec)
    fused, calls, fusion = fuse_on("onnxruntime", source, target, bundle=bundle.directory,
                                   region=region)
    assert len(calls) == 1 and fusion._source.identity.shape == (128,)
    [face] = fusion.detector.detect(target)
    nose_x, nose_y = np.round(face.landmarks[2]).astype(int)
    centre = fused[nose_y - 4:nose_y + 5, nose_x - 4:nose_x + 5]
    assert np.all(centre == 255), centre[..., 0]
    assert np.array_equal(fused[-40:], target[-40:]) and np.array_equal(fused[:, :40], target[:, :40])


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


def test_a_frame_without_a_face_comes_back_as_it_is(source):
    wall = np.full((240, 320, 3), 90, np.uint8)
    with FaceFusion(FusionConfig(blend="classic")) as fusion:
        fusion.set_source(source)
        assert fusion.fuse(wall, require_face=False) is wall


def test_faces_are_pasted_into_one_copy_and_the_input_is_untouched(source, two_face_frame,
                                                                  monkeypatch):
    import fuse_trt.api
    from fuse_trt.engine.faces import paste_back

    preps, prepare_face = [], fuse_trt.api.prepare_face
    monkeypatch.setattr(fuse_trt.api, "prepare_face",
                        lambda *args, **kwargs: preps.append(prepare_face(*args, **kwargs))
                        or preps[-1])
    kept = two_face_frame.copy()
    with FaceFusion(FusionConfig(face="all", blend="classic")) as fusion:
        fusion.set_source(source)
        fused = fusion.fuse(two_face_frame)
    assert np.array_equal(two_face_frame, kept) and len(preps) == 2
    expected = two_face_frame
    for prep in preps:  # the old way: a new frame per face
        assert prep.context is None  # the classical blend never builds what only the UNet reads
        expected = paste_back(expected, prep.region, prep.result, prep.support)
    np.testing.assert_array_equal(fused, expected)


@pytest.mark.parametrize("blend", ["classic", "unet"])
def test_a_bgr_frame_gives_the_rgb_result_in_bgr(source, two_face_frame, blend):
    with FaceFusion(FusionConfig(face="all", blend=blend)) as fusion:
        fusion.set_source(source)
        rgb = fusion.fuse(two_face_frame)
        bgr = fusion.fuse(np.ascontiguousarray(two_face_frame[:, :, ::-1]), bgr=True)
    np.testing.assert_array_equal(bgr[:, :, ::-1], rgb)
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
