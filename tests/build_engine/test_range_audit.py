"""Float16 range audit and true-float16 evaluation (issue 18).

The old colour-head statistics (sums over the image) are rebuilt here as they were, to show
that float16 turns them into inf/NaN and that the audit names them; the shipped statistics
(means) stay finite and close to FP32 in true float16 arithmetic."""
import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import TensorProto, helper

from fuse_trt.build_engine.fp16_onnx import convert_fp16, fp32_rules, rule_fp32_nodes
from fuse_trt.build_engine.fp16_reference import run_float16
from fuse_trt.build_engine.range_audit import (DEFAULT_BOUND, audit_reduced, measure_tiers,
                                               synthetic_samples)
from fuse_trt.engine.errors import RangeAuditError
from fuse_trt.engine.unet import TINY_UNET_CONFIG, face_frame
from tests.conftest import perturbed_unet

SIZE = 512  # the 512 tier's max shape; a face-sized mask


def face_mask(size: int = SIZE) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    radius = np.hypot((x - size / 2) / (0.3 * size), (y - size / 2) / (0.38 * size))
    return np.clip((1.0 - radius) / 0.15, 0.0, 1.0)[None, None]


def old_face_frame(mask):
    """The colour head's face frame before issue 18: sums over the image, pixel positions."""
    def weighted_mean(image, weight):
        return (image * weight).sum(dim=(2, 3)) / (weight.sum(dim=(2, 3)) + 1e-6)

    def expand(values):
        return values[:, :, None, None]

    ones = torch.ones_like(mask)
    dx, dy = torch.cumsum(ones, dim=3), torch.cumsum(ones, dim=2)
    dx = dx - expand(weighted_mean(dx, mask))
    dy = dy - expand(weighted_mean(dy, mask))
    sxx = expand(weighted_mean(dx * dx, mask)) + 1.0
    syy = expand(weighted_mean(dy * dy, mask)) + 1.0
    sxy = expand(weighted_mean(dx * dy, mask))
    root_det = torch.sqrt((sxx * syy - sxy * sxy).clamp_min(1e-6))
    scale = 1.0 / (torch.sqrt(sxx + syy + 2.0 * root_det) * root_det)
    a = ((syy + root_det) * dx - sxy * dy) * scale
    b = ((sxx + root_det) * dy - sxy * dx) * scale
    return a.clamp(-4.0, 4.0), b.clamp(-4.0, 4.0)


class Frame(torch.nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, mask):
        return self.function(mask)


def export(module, tmp_path, args, names, name="m.onnx") -> onnx.ModelProto:
    path = tmp_path / name
    axes = {n: {0: "batch", 2: "height", 3: "width"} for n in names}
    torch.onnx.export(module, args, str(path), input_names=names[:len(args)],
                      output_names=names[len(args):], dynamic_axes=axes, opset_version=17,
                      dynamo=False)
    return onnx.shape_inference.infer_shapes(onnx.load(str(path)))


def fp32_run(model, feed):
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("frames")
    mask = torch.from_numpy(face_mask())
    return {kind: export(Frame(function), tmp, (mask,), ["mask", "a", "b"], f"{kind}.onnx")
            for kind, function in (("old", old_face_frame), ("new", face_frame))}


def test_old_statistics_are_nan_in_true_float16(frames):
    outputs = run_float16(convert_fp16(frames["old"]), {"mask": face_mask()})
    assert not np.isfinite(outputs["a"]).all()


def test_new_statistics_are_finite_and_close_to_fp32_in_true_float16(frames):
    feed = {"mask": face_mask()}
    expected = fp32_run(frames["new"], feed)
    # Image reductions stay FP32 by rule: a float16 accumulator (numpy's, here) would
    # overflow inside ReduceMean even though the mean itself fits.
    outputs = run_float16(convert_fp16(frames["new"], rule_fp32_nodes(frames["new"])), feed)
    for name in ("a", "b"):
        assert np.isfinite(outputs[name]).all()
        assert np.abs(outputs[name].astype(np.float32) - expected[name]).max() < 2e-2


def test_audit_names_the_overflowing_sum_and_refuses(frames):
    samples = {"512": [{"mask": face_mask()}]}
    measured = measure_tiers(frames["old"], samples)
    report = audit_reduced(frames["old"], convert_fp16(frames["old"]), "old.fp16.onnx", measured)
    worst = report.over()[0]
    assert worst.op == "ReduceSum" and worst.max_abs > 1e8 and worst.tier == "512"
    with pytest.raises(RangeAuditError, match=r"ReduceSum.*at tier 512 \(512x512\)") as error:
        report.check()
    assert "\n" not in str(error.value)
    fixed = measure_tiers(frames["new"], samples)
    new = audit_reduced(frames["new"], convert_fp16(frames["new"]), "new.fp16.onnx", fixed)
    assert new.check().over() == [] and 0 < new.largest(1)[0].max_abs <= DEFAULT_BOUND


def test_audit_flagged_nodes_stay_fp32_so_the_old_graph_passes(frames):
    measured = measure_tiers(frames["old"], {"512": [{"mask": face_mask()}]})
    kept = fp32_rules(frames["old"], measured)
    reduced = convert_fp16(frames["old"], kept)
    assert any("range audit" in why for why in kept.values())
    assert audit_reduced(frames["old"], reduced, "old.fp16.onnx", measured).check()
    assert np.isfinite(run_float16(reduced, {"mask": face_mask()})["a"]).all()


def test_a_weight_beyond_float16_is_refused():
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "w"], ["y"], name="scale")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, "h", "w_"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1, "h", "w_"])],
        [helper.make_tensor("w", TensorProto.FLOAT, [], [1e6])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    measured = measure_tiers(model, {"t": [{"x": np.ones((1, 1, 4, 4), np.float32)}]})
    with pytest.raises(RangeAuditError, match="'w' \\(initializer\\) reaches 1e\\+06"):
        audit_reduced(model, convert_fp16(model), "w.fp16.onnx", measured).check()


def test_tiny_unet_in_true_float16_matches_fp32_at_the_512_tier(tmp_path):
    model = perturbed_unet(TINY_UNET_CONFIG)
    spec = TINY_UNET_CONFIG.spec()
    feed = spec.example_feed(1, SIZE, SIZE)
    feed["mask"] = face_mask()
    feed["context"] = feed["context"] * (1.0 - feed["mask"])
    args = tuple(torch.from_numpy(feed[name]) for name in spec.input_names)
    fp32 = export(model, tmp_path, args, [*spec.input_names, *spec.output_names])
    tiers = {"512": [feed]}
    reduced = convert_fp16(fp32, fp32_rules(fp32, measure_tiers(fp32, tiers)))
    fused = run_float16(reduced, feed)["fused"].astype(np.float32)
    expected = fp32_run(fp32, feed)["fused"]
    assert np.isfinite(fused).all()
    assert np.abs(fused - expected).max() < 1e-2


def test_synthetic_samples_have_a_face_sized_mask_at_each_max_shape():
    from tests.conftest import tiny_tiers

    tiers = tiny_tiers()
    samples = synthetic_samples(TINY_UNET_CONFIG.spec(), tiers)
    for tier in tiers:
        [feed] = samples[tier.name]
        assert feed["mask"].shape[2:] == tier.max_shape
        assert 0.2 < feed["mask"].mean() < 0.6
