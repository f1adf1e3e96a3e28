"""The audited FP16 build: report in the manifest and `fuse-trt info`; weakly typed TensorRT
builds pin the image reductions to FP32 and record them in the sidecar."""
import shutil

import pytest

from fuse_trt.build_engine.bundle_builder import BuildConfig
from fuse_trt.build_engine.fp16_onnx import REDUCTION_REASON
from fuse_trt.build_engine.pipeline import build_bundle
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind
from fuse_trt.info import describe
from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path
from tests.support.tensorrt import emulate
from tests.support.tensorrt.emulation import read_plan


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path):
    directory = tmp_path / "bundle"
    shutil.copytree(tiny_bundle.directory, directory)
    return directory


def _config(directory, **overrides):
    tiers = Bundle.load(directory).tiers
    return BuildConfig(source_bundle=directory, tier_short_edges=tuple(t.short_edge for t in tiers),
                       precision="fp16", **overrides)


def test_fp16_onnx_carries_its_range_audit_into_manifest_and_info(bundle_copy):
    bundle = build_bundle(bundle_copy, _config(bundle_copy))
    [artifact] = bundle.manifest.find("onnx", "fp16")
    audit = artifact.details["range_audit"]
    assert audit["over_bound"] == 0 and audit["tensors"] > 50
    assert set(audit["shapes"]) == set(bundle.tiers.names())
    assert [list(t.max_shape) for t in bundle.tiers] == list(audit["shapes"].values())
    assert REDUCTION_REASON in artifact.details["fp32_nodes"].values()
    assert "range audit:" in describe(bundle_copy) and "0 over 32752" in describe(bundle_copy)


def test_weakly_typed_fp16_pins_the_reductions_and_the_sidecar_says_why(bundle_copy, monkeypatch):
    emulate("10.3.0").install(monkeypatch)
    bundle = build_bundle(bundle_copy, _config(bundle_copy, backend="tensorrt"))
    [plan] = bundle.manifest.find("plan", "fp16", "tensorrt")
    sidecar = PlanSidecar.read(sidecar_path(bundle.directory / plan.file))
    reductions = [name for name, why in sidecar.fp32_layers.items() if why == REDUCTION_REASON]
    assert any("ReduceMean" in name for name in reductions)
    header, _ = read_plan((bundle.directory / plan.file).read_bytes())
    assert sorted(header["fp32_layers"]) == sorted(sidecar.fp32_layers)  # obeyed by the build
    assert "OBEY_PRECISION_CONSTRAINTS" in header["flags"]
    assert plan.details["range_audit"]["over_bound"] == 0


def test_strongly_typed_11x_pins_nothing_and_builds_from_the_audited_onnx(bundle_copy,
                                                                         monkeypatch):
    emulate("11.4.0.106").install(monkeypatch)
    bundle = build_bundle(bundle_copy, _config(bundle_copy, backend="tensorrt"))
    [plan] = bundle.manifest.find("plan", "fp16", "tensorrt")
    assert PlanSidecar.read(sidecar_path(bundle.directory / plan.file)).fp32_layers == {}
    [typed_onnx] = bundle.manifest.find(ArtifactKind.ONNX_FP16_IO, "fp16")  # FP16 I/O too
    assert typed_onnx.details["range_audit"]["over_bound"] == 0
    assert REDUCTION_REASON in typed_onnx.details["fp32_nodes"].values()
