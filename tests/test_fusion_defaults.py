"""The UNet refines by default, turned faces are left alone, nothing outside the fused regions
changes, and FusionConfig / fuse() refuse bad values with typed errors."""
import logging
import math

import numpy as np
import pytest

from fuse_trt import FaceFusion, FusionConfig
from fuse_trt.engine.choices import BackendName, Composite, FaceChoice, Precision, Refine
from fuse_trt.engine.errors import ConfigError, InputImageError, NoFaceError
from fuse_trt.engine.faces import face_mask
from fuse_trt.engine.fusion_input import FacePrep


@pytest.fixture(scope="module")
def two_faces(astronaut):
    """Two faces with room around them, so their fusion regions leave most pixels out."""
    return np.pad(np.hstack([astronaut, astronaut]), ((300, 300), (300, 300), (0, 0)), "edge")


def test_the_default_config_refines_with_the_unet_on_the_colour_composite():
    config = FusionConfig()
    assert (config.composite, config.refine, config.backend) == \
        (Composite.COLOUR, Refine.UNET, BackendName.AUTO)
    assert config.precision is None and config.face == FaceChoice.LARGEST


def test_the_default_fusion_runs_the_unet_and_differs_from_no_refinement(grace, astronaut):
    with FaceFusion() as fusion:
        fusion.set_source(grace)
        refined = fusion.fuse(astronaut)
        assert fusion.selection.name == BackendName.ONNXRUNTIME
        assert fusion.selection.precision == Precision.FP32
    with FaceFusion(FusionConfig(refine="none")) as plain:
        plain.set_source(grace)
        assert plain.backend is None
        composite = plain.fuse(astronaut)
        face = plain.detector.detect(astronaut)[0]
    inside = face_mask(astronaut.shape[:2], face.landmarks) > 0.5
    difference = np.abs(refined.astype(int) - composite.astype(int))[inside]
    assert difference.max() >= 10 and difference.mean() > 3.0


@pytest.mark.parametrize("composite", ["colour", "seamless"])
@pytest.mark.parametrize("refine", ["unet", "none"])
def test_outside_the_fused_regions_the_output_is_the_input_bit_for_bit(
        grace, two_faces, monkeypatch, composite, refine):
    regions = []
    original = FacePrep.paste_into

    def recording_paste(prep, frame, ratio):
        regions.append(prep.region)
        return original(prep, frame, ratio)

    monkeypatch.setattr(FacePrep, "paste_into", recording_paste)
    with FaceFusion(FusionConfig(composite=composite, refine=refine, face="all")) as fusion:
        fusion.set_source(grace)
        fused = fusion.fuse(two_faces)
    inside = np.zeros(two_faces.shape[:2], bool)
    for region in regions:
        inside[region.y0:region.y1, region.x0:region.x1] = True
    assert len(regions) == 2 and inside.mean() < 0.5
    assert np.array_equal(fused[~inside], two_faces[~inside])
    assert not np.array_equal(fused[inside], two_faces[inside])


def test_a_turned_target_face_is_left_untouched_and_said_once(grace, camera, caplog):
    with FaceFusion(FusionConfig(refine="none")) as fusion:
        fusion.set_source(grace)
        with caplog.at_level(logging.WARNING, logger="fuse_trt"):
            kept = fusion.fuse(camera)
    assert np.array_equal(kept, camera)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "1 target face(s) turned past yaw 0.50 left untouched" \
        in warnings[0] and "--allow-profile" in warnings[0]
    with FaceFusion(FusionConfig(refine="none", allow_profile=True)) as forced:
        forced.set_source(grace)
        assert not np.array_equal(forced.fuse(camera), camera)


def test_a_turned_source_face_is_refused_for_a_still(camera, astronaut):
    with pytest.raises(NoFaceError, match=r"source face is turned \(yaw 0\.\d\d > 0\.50\); "
                                          "pick a frontal photo"):
        FaceFusion(FusionConfig(refine="none")).set_source(camera)
    FaceFusion(FusionConfig(refine="none", allow_profile=True)).set_source(camera)


def test_a_face_index_past_the_faces_of_a_still_is_an_error(grace, astronaut):
    fusion = FaceFusion(FusionConfig(refine="none", face=3))
    fusion.set_source(grace)
    with pytest.raises(NoFaceError, match="face index 3 requested, 1 face"):
        fusion.fuse(astronaut)


@pytest.mark.parametrize("options, message", [
    ({"backend": "bogus"}, "unknown backend 'bogus'; choose one of auto, onnxruntime"),
    ({"precision": "int4"}, "unknown precision 'int4'"),
    ({"context": -1}, r"context must be a number in 0\.\.2, got -1"),
    ({"context": 100}, r"context must be a number in 0\.\.2, got 100"),
    ({"ratio": math.nan}, "ratio must be a number"),
    ({"ratio": "1"}, "ratio must be a number"),
    ({"face": "left"}, "face must be largest, all or an index"),
    ({"face": -1}, "face must be largest, all or an index"),
    ({"composite": "poisson"}, "unknown composite"),
    ({"refine": "gan"}, "unknown refine"),
    ({"blend": "unet", "refine": "none"}, "blend is the deprecated form"),
    ({"refine": "none", "backend": "tensorrt"}, "backend=tensorrt chooses how the UNet runs"),
    ({"refine": "none", "precision": "int8"}, "precision=int8 chooses how the UNet runs"),
    ({"refine": "none", "region": "frame"}, "region=frame chooses how the UNet runs"),
    ({"allow_profile": "yes"}, "allow_profile must be True or False"),
])
def test_config_refuses_bad_values_at_construction(options, message):
    with pytest.raises(ConfigError, match=message):
        FusionConfig(**options)


def test_the_deprecated_blend_sets_composite_and_refine():
    config = FusionConfig(blend="seamless")
    assert (config.composite, config.refine, config.blend) == \
        (Composite.SEAMLESS, Refine.NONE, None)


@pytest.mark.parametrize("frame, message", [
    (None, "must be a numpy array"),
    (np.zeros((0, 0, 3), np.uint8), "has no pixels"),
    (np.zeros((64, 64), np.uint8), "must be RGB uint8 HxWx3"),
    (np.zeros((64, 64, 3), np.float32), "must be RGB uint8 HxWx3"),
])
def test_fuse_and_set_source_refuse_arrays_that_are_not_images(grace, frame, message):
    fusion = FaceFusion(FusionConfig(refine="none"))
    with pytest.raises(InputImageError, match=message):
        fusion.set_source(frame)
    fusion.set_source(grace)
    with pytest.raises(InputImageError, match=message):
        fusion.fuse(frame)


def test_int8_runs_out_of_the_box_and_stays_close_to_fp32(grace, astronaut):
    """The gated INT8 ONNX ships with the default model; it must still match that model's
    FP32 graph (a re-exported model.onnx without a rebuilt INT8 fails here)."""
    outputs = {}
    for precision in ("fp32", "int8"):
        with FaceFusion(FusionConfig(precision=precision)) as fusion:
            fusion.set_source(grace)
            outputs[precision] = fusion.fuse(astronaut).astype(int)
            assert fusion.selection.precision == precision
            assert fusion.backend.onnx_path.name == \
                ("model.int8.onnx" if precision == "int8" else "model.onnx")
    assert np.abs(outputs["int8"] - outputs["fp32"]).max() <= 3
