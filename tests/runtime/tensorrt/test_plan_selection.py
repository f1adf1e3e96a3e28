"""Plan choice by the running TensorRT (trt.__version__) and GPU, DLA tiers routed to their
plan end to end through open_backend, stale plans refused."""
import json
import shutil
import sys
from dataclasses import replace

import numpy as np
import pytest

from fuse_trt.build_engine.bundle_builder import BuildConfig
from fuse_trt.build_engine.pipeline import build_bundle
from fuse_trt.build_engine.tensorrt_config import TensorRTBuildConfig
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.errors import PlanMismatchError
from fuse_trt.runtime.cuda_memory import GpuInfo
from fuse_trt.runtime.plan_choice import Match, PlanCandidate, match_quality, select_plans
from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path
from fuse_trt.runtime.select import open_backend
from tests.conftest import tiny_tiers
from tests.support.tensorrt import FakeGpu, emulate

ORIN = ("NVIDIA Jetson AGX Orin", (8, 7))
RTX = GpuInfo(0, "NVIDIA GeForce RTX 4090", (8, 9), "12.4.0", "12.4")


@pytest.fixture(autouse=True)
def builds_in_process(monkeypatch):
    """Several plans build one per subprocess, where the emulation is not installed."""
    from fuse_trt.build_engine import tensorrt_builder

    monkeypatch.setattr(tensorrt_builder, "build_plan_in_subprocess",
                        lambda job, build=None: tensorrt_builder.build_plan(job))


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path):
    directory = tmp_path / "bundle"
    shutil.copytree(tiny_bundle.directory, directory)
    return directory


def build(bundle_dir, precision="fp16", **tensorrt):
    tiers = Bundle.load(bundle_dir).tiers
    return build_bundle(bundle_dir, BuildConfig(
        backend="tensorrt", precision=precision, source_bundle=bundle_dir,
        tier_short_edges=tuple(t.short_edge for t in tiers),
        tensorrt=TensorRTBuildConfig(**tensorrt)))


def sidecar(**changes) -> PlanSidecar:
    base = PlanSidecar(model="m", precision="fp16", tensorrt_version="10.3.0",
                       gpu_name=RTX.name, compute_capability=RTX.compute_capability,
                       cuda_version="12.4", driver_version="12.4", onnx_file="model.onnx",
                       onnx_sha256="0" * 64, profiles={t.name: {"index": i, "inputs": {}}
                                                       for i, t in enumerate(tiny_tiers())})
    return replace(base, **changes)


def test_exact_beats_version_compatible_beats_hardware_compatible(tmp_path):
    other_gpu = sidecar(gpu_name="NVIDIA A100", compute_capability=(8, 0), hardware_compat=True)
    older = sidecar(tensorrt_version="10.0.1", version_compatible=True)
    exact = sidecar()
    assert [match_quality(s, "10.3.0", RTX, "fp16") for s in (other_gpu, older, exact)] == \
        [Match.HARDWARE_COMPATIBLE, Match.VERSION_COMPATIBLE, Match.EXACT]
    plans = {name: PlanCandidate(tmp_path / f"{name}.plan", s)
             for name, s in (("exact", exact), ("older", older), ("other", other_gpu))}
    for order in (["exact", "older", "other"], ["other", "older", "exact"]):
        chosen = select_plans([plans[n] for n in order], "10.3.0", RTX, "fp16", tiny_tiers())
        assert set(chosen.routes.values()) == {tmp_path / "exact.plan"}
    chosen = select_plans([plans["other"], plans["older"]], "10.3.0", RTX, "fp16", tiny_tiers())
    assert set(chosen.routes.values()) == {tmp_path / "older.plan"}


def test_a_plan_for_another_gpu_is_never_chosen(tmp_path):
    theirs = PlanCandidate(tmp_path / "a100.plan", sidecar(gpu_name="NVIDIA A100",
                                                           compute_capability=(8, 0)))
    assert select_plans([theirs], "10.3.0", RTX, "fp16", tiny_tiers()) is None


def test_the_version_comes_from_tensorrt_itself_not_the_package_name(bundle_copy, monkeypatch):
    """Only tensorrt-cu12 (or JetPack's apt TensorRT) may be installed: no 'tensorrt' dist."""
    import importlib.metadata

    def no_distribution(name):
        raise importlib.metadata.PackageNotFoundError(name)

    with pytest.MonkeyPatch.context() as patch:
        emulate("10.3.0", FakeGpu("NVIDIA GeForce RTX 4090", (8, 9))).install(patch)
        build(bundle_copy, "fp32")
    with pytest.MonkeyPatch.context() as patch:
        emulate("10.16.1.11", FakeGpu("NVIDIA GeForce RTX 4090", (8, 9))).install(patch)
        bundle = build(bundle_copy, "fp32")
    emulate("10.3.0", FakeGpu("NVIDIA GeForce RTX 4090", (8, 9))).install(monkeypatch)
    monkeypatch.setattr(importlib.metadata, "version", no_distribution)
    with open_backend(bundle, "tensorrt", "fp32") as backend:
        assert {p.name for p in backend.plan_routes.values()} == {
            f"{bundle.spec.name}.trt10.3.0.nvidia-geforce-rtx-4090-sm89.fp32.plan"}


def test_plans_for_two_gpus_pick_the_one_here(bundle_copy, monkeypatch):
    for name, capability in (("NVIDIA GeForce RTX 4090", (8, 9)), ORIN):
        with pytest.MonkeyPatch.context() as patch:
            emulate("10.3.0", FakeGpu(name, capability)).install(patch)
            bundle = build(bundle_copy, "fp32")
    emulate("10.3.0", FakeGpu("NVIDIA GeForce RTX 4090", (8, 9))).install(monkeypatch)
    with open_backend(bundle, "tensorrt", "fp32") as backend:
        assert all("rtx-4090" in p.name for p in backend.plan_routes.values())


def test_dla_tiers_are_routed_to_the_dla_plan_end_to_end(bundle_copy, monkeypatch):
    emulate("10.3.0", FakeGpu(*ORIN)).install(monkeypatch)
    first = Bundle.load(bundle_copy).tiers.tiers[0]
    bundle = build(bundle_copy, "fp16", dla_core=0, dla_tiers=(first.name,))
    assert len(bundle.manifest.find("plan", "fp16", "tensorrt")) == 2
    with open_backend(bundle, "tensorrt", "fp16") as trt_backend, \
            open_backend(bundle, "onnxruntime", "fp32") as reference:
        assert ".dla0." in trt_backend.plan_routes[first.name].name
        static = trt_backend.tiers.by_name(first.name)
        assert static.min_shape == static.max_shape == first.opt_shape and static.max_batch == 1
        for height, width in ((first.short_edge // 2, first.short_edge), (40, 100), (200, 90)):
            plan = trt_backend.tiers.plan(height, width)
            tier = plan.tier
            feed = trt_backend.spec.example_feed(1, *plan.planned_shape, seed=height)  # FP16 I/O
            actual = trt_backend.infer(tier, feed)
            expected = reference.infer(tier.name, {k: v.astype(np.float32) for k, v in feed.items()})
            assert np.abs(actual["fused"].astype(np.float32) - expected["fused"]).max() < 2e-2


def test_int8_with_every_tier_on_dla_builds(bundle_copy, monkeypatch):
    """The calibration tier was gpu_tiers[0]: an IndexError when all tiers are on DLA."""
    from fuse_trt.calibration.dataset import CalibrationConfig
    from fuse_trt.calibration.options import Int8Options
    from fuse_trt.calibration.step import CalibratedInt8

    emulate("10.3.0", FakeGpu(*ORIN)).install(monkeypatch)
    tiers = Bundle.load(bundle_copy).tiers
    step = CalibratedInt8(Int8Options(calibration=CalibrationConfig(size=12),
                                      cache_dir=bundle_copy.parent / "calibration-sets"))
    config = BuildConfig(backend="tensorrt", precision="int8", source_bundle=bundle_copy,
                         tier_short_edges=tuple(t.short_edge for t in tiers), int8=step,
                         tensorrt=TensorRTBuildConfig(dla_core=0, dla_tiers=tuple(tiers.names())))
    bundle = build_bundle(bundle_copy, config)
    [plan] = bundle.manifest.find("plan", "int8", "tensorrt")
    assert ".dla0." in plan.file


def test_a_plan_built_from_another_onnx_is_refused_with_the_rebuild(bundle_copy, monkeypatch):
    emulate("10.3.0").install(monkeypatch)
    bundle = build(bundle_copy, "fp32")
    [artifact] = bundle.manifest.find("plan", "fp32", "tensorrt")
    path = sidecar_path(bundle.directory / artifact.file)
    data = json.loads(path.read_text())
    data["source_onnx_sha256"] = data["onnx_sha256"] = "f" * 64
    path.write_text(json.dumps(data))
    with pytest.raises(PlanMismatchError, match="built from an ONNX with sha256 ffffffffffff.*"
                                                "stale.*fuse-trt build --backend tensorrt"):
        open_backend(bundle, "tensorrt", "fp32").activate()
