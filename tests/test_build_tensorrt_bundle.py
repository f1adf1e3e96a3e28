"""`fuse-trt build --backend tensorrt` into a bundle, then the pipeline on that bundle, on the
emulated TensorRT of every version (tests/support/tensorrt): plans, sidecars and caches recorded in
the manifest, routed by runtime.select, outputs equal to ONNX Runtime's."""
import json
import shutil

import numpy as np
import pytest

from fuse_trt import FaceFusion, FusionConfig
from fuse_trt.build_engine.pipeline import build_bundle
from fuse_trt.build_engine.bundle_builder import BuildConfig
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.faces import load_sample
from fuse_trt.info import bundle_memory_plan, memory_plan_lines, recorded_tensorrt_memory
from fuse_trt.runtime.select import open_backend
from tests.runtime.test_backend_contract import tier_feeds
from tests.support.tensorrt import VERSIONS, emulate


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path):
    directory = tmp_path / "bundle"
    shutil.copytree(tiny_bundle.directory, directory)
    return directory


@pytest.mark.parametrize("version", VERSIONS)
def test_tensorrt_build_records_plans_and_serves_the_pipeline(version, bundle_copy, monkeypatch):
    emulated = emulate(version).install(monkeypatch)
    tiers = Bundle.load(bundle_copy).tiers
    config = BuildConfig(backend="tensorrt", precision="fp16", source_bundle=bundle_copy,
                         tier_short_edges=tuple(t.short_edge for t in tiers))
    bundle = build_bundle(bundle_copy, config)
    kinds = {(a.kind, a.precision) for a in bundle.manifest.artifacts}
    assert {("plan", "fp16"), ("plan-sidecar", "fp16"), ("timing-cache", "any")} <= kinds
    [plan] = bundle.manifest.find("plan", "fp16", "tensorrt")
    assert plan.details["tensorrt_version"] == emulated.trt.__version__
    assert plan.details["tiers"] == sorted(tiers.names())
    if version.startswith("11."):
        assert ("onnx-fp16-io", "fp16") in kinds  # 11.x is strongly typed: from the FP16 ONNX
    [sidecar] = bundle.manifest.find("plan-sidecar", "fp16")
    recorded = json.loads((bundle_copy / sidecar.file).read_text())["device_memory"]
    assert set(recorded["scratch_bytes_per_tier"]) == set(tiers.names())
    assert recorded["source"] == ("device_memory_size" if version.startswith("8.")
                                  else "get_device_memory_size_for_profile_v2")
    assert recorded["weights_bytes"] > 0
    # TensorRT's own figures printed beside the estimate
    text = "\n".join(memory_plan_lines(bundle_memory_plan(bundle), recorded_tensorrt_memory(bundle)))
    largest = recorded["scratch_bytes_per_tier"][tiers.names()[-1]] / (1 << 20)
    assert f"TensorRT {version} fp16" in text and f"{largest:.1f} MiB" in text
    assert "memory plan (fp16 TensorRT" in text

    with open_backend(bundle, "tensorrt", "fp16") as trt_backend, \
            open_backend(bundle, "onnxruntime", "fp32") as reference:
        assert {t.dtype for t in (*trt_backend.spec.inputs, *trt_backend.spec.outputs)} == \
            {"float16"}  # an FP16 plan takes and returns FP16
        for tier, feed in tier_feeds(bundle):
            typed = {name: array.astype(np.float16) for name, array in feed.items()}
            expected, actual = reference.infer(tier, feed), trt_backend.infer(tier, typed)
            assert actual["fused"].dtype == np.float16
            assert np.abs(actual["fused"] - expected["fused"]).max() < 2e-2


def test_pipeline_on_a_tensorrt_bundle_matches_onnxruntime(bundle_copy, monkeypatch):
    emulate(VERSIONS[0]).install(monkeypatch)
    tiers = Bundle.load(bundle_copy).tiers
    build_bundle(bundle_copy, BuildConfig(backend="tensorrt", precision="fp32",
                                          source_bundle=bundle_copy,
                                          tier_short_edges=tuple(t.short_edge for t in tiers)))
    outputs = {}
    for backend in ("tensorrt", "onnxruntime"):
        config = FusionConfig(bundle=bundle_copy, backend=backend, precision="fp32",
                              blend="unet")
        with FaceFusion(config) as fusion:
            fusion.set_source(load_sample("grace_hopper"))
            outputs[backend] = fusion.fuse(load_sample("astronaut"))
    assert np.array_equal(outputs["tensorrt"], outputs["onnxruntime"])
