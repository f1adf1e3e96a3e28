"""The build pipeline: steps that compose and can be replaced, one FP16 ONNX under one name,
the batch range from the tier table only."""
import shutil
from dataclasses import replace

from fuse_trt.build_engine.bundle_builder import BuildConfig
from fuse_trt.build_engine.pipeline import (FP16_IO_ONNX_NAME, FP16_ONNX_NAME, Fp16OnnxInBundle,
                                            TensorRTPlansInBundle, build_bundle, build_pipeline)
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind
from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path
from tests.support.tensorrt import VERSIONS, emulate


def copy_of(bundle, tmp_path):
    directory = tmp_path / "bundle"
    shutil.copytree(bundle.directory, directory)
    return directory


def trt_config(directory, **fields):
    tiers = Bundle.load(directory).tiers
    return BuildConfig(backend="tensorrt", source_bundle=directory,
                       tier_short_edges=tuple(t.short_edge for t in tiers), **fields)


class Counting:
    def __init__(self, step):
        self.step, self.calls = step, 0

    def __call__(self, bundle):
        self.calls += 1
        return self.step(bundle)


def test_strongly_typed_tensorrt_asks_the_one_fp16_step(tiny_bundle, tmp_path, monkeypatch):
    emulate(VERSIONS[-1]).install(monkeypatch)  # 11.x: FP16 only from an FP16 ONNX
    directory = copy_of(tiny_bundle, tmp_path)
    config = trt_config(directory, precision="fp16")
    fp16 = Counting(Fp16OnnxInBundle(fp16_io=True))
    fp16.file_name = fp16.step.file_name
    pipeline = replace(build_pipeline(directory, config),
                       steps=(TensorRTPlansInBundle(config, fp16),))
    bundle = pipeline()
    assert fp16.calls == 1
    [onnx16] = bundle.manifest.find(ArtifactKind.ONNX_FP16_IO, "fp16")
    assert onnx16.file == FP16_IO_ONNX_NAME
    [plan] = bundle.manifest.find("plan", "fp16", "tensorrt")
    assert PlanSidecar.read(sidecar_path(directory / plan.file)).onnx_file == FP16_IO_ONNX_NAME
    assert sorted(p.name for p in directory.glob("*.onnx")) == [FP16_IO_ONNX_NAME, "model.onnx"]


def test_an_onnxruntime_fp16_bundle_records_its_fp16_onnx_once(tiny_bundle, tmp_path):
    directory = copy_of(tiny_bundle, tmp_path)
    tiers = Bundle.load(directory).tiers
    config = BuildConfig(precision="fp16", source_bundle=directory,
                         tier_short_edges=tuple(t.short_edge for t in tiers))
    build_bundle(directory, config)
    bundle = build_bundle(directory, config)  # extending again adds nothing
    assert [a.file for a in bundle.manifest.find("onnx", "fp16")] == [FP16_ONNX_NAME]


def test_the_profiles_batch_range_is_the_tier_tables(tiny_bundle, tmp_path, monkeypatch):
    emulate(VERSIONS[0]).install(monkeypatch)
    directory = copy_of(tiny_bundle, tmp_path)
    config = trt_config(directory, precision="fp32", max_batch=2)
    source = lambda: Bundle.load(directory)  # noqa: E731 - the export step, replaced
    bundle = replace(build_pipeline(directory, config), source=source)()
    [plan] = bundle.manifest.find("plan", "fp32", "tensorrt")
    profiles = PlanSidecar.read(sidecar_path(directory / plan.file)).profiles
    assert {entry["inputs"]["composite"]["max"][0] for entry in profiles.values()} == \
        {t.max_batch for t in bundle.tiers} == {4}
