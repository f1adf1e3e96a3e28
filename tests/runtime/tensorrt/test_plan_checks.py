"""A plan that does not run here is refused with what was expected, what was found, and how
to rebuild; a refused activation leaves nothing allocated or retained."""
import json
from dataclasses import replace

import pytest

from fuse_trt.engine.spec import FUSION_SPEC
from fuse_trt.engine.tiers import TierTable
from fuse_trt.engine.errors import PlanMismatchError
from fuse_trt.runtime.plan_sidecar import sidecar_path
from fuse_trt.runtime.tensorrt_backend import TensorRTBackend
from tests.support.tensorrt import emulate
from tests.support.tensorrt.building import build_plan


def edit_sidecar(plan, **changes):
    path = sidecar_path(plan)
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def assert_refused(plan, tiers, gpu, match, precision="fp32"):
    with pytest.raises(PlanMismatchError, match=match) as error:
        TensorRTBackend(plan, FUSION_SPEC, tiers, precision).activate()
    assert gpu.retained == 0 and gpu.allocations == {} and gpu.stack() == []
    return str(error.value)


def test_another_gpu_is_refused_with_the_rebuild_command(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    edit_sidecar(plan, gpu_name="NVIDIA Jetson AGX Orin", compute_capability=[8, 7])
    message = assert_refused(plan, tiers, trt10.gpu, "GPU: built for NVIDIA Jetson AGX Orin")
    assert "running on Emulated GPU (sm87)" in message
    assert f"fuse-trt build --backend tensorrt --precision fp32 -o {tmp_path}" in message


def test_another_tensorrt_version_is_refused(tiers, tmp_path, monkeypatch):
    with pytest.MonkeyPatch.context() as patch:
        emulate("10.3.0").install(patch)
        plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    gpu = emulate("10.16.1.11").install(monkeypatch).gpu
    assert_refused(plan, tiers, gpu, "TensorRT: built with 10.3.0, running 10.16.1.11")


def test_another_precision_is_refused(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    assert_refused(plan, tiers, trt10.gpu, "the plan is fp32, fp16 was asked for", "fp16")


def test_a_plan_tensorrt_cannot_deserialize_is_refused(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    plan.write_bytes(b"not a plan")
    assert_refused(plan, tiers, trt10.gpu, "could not deserialize .*rebuild it with: fuse-trt "
                                           "build --backend tensorrt --precision fp32 -o ")


def test_a_missing_sidecar_is_refused(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    sidecar_path(plan).unlink()
    assert_refused(plan, tiers, trt10.gpu, "is missing")


def test_a_tier_the_plan_was_not_built_for_is_refused(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, TierTable(tiers.tiers[:2], tiers.stride))
    assert_refused(plan, tiers, trt10.gpu, r"no profile for tier 64; .*\['32', '48'\]")


def test_a_profile_narrower_than_its_tier_is_refused(trt10, tiers, tmp_path):
    narrow = TierTable(tuple(replace(t, max_batch=2) for t in tiers), tiers.stride)
    plan = build_plan(tmp_path, FUSION_SPEC, narrow)
    assert_refused(plan, tiers, trt10.gpu, r"profile 0 covers composite .*\(2, 3, 32, 64\).*"
                                           r"needs \(1, 3, 32, 32\)\.\.\(4, 3, 32, 64\)")
    with TensorRTBackend(plan, FUSION_SPEC, narrow, "fp32") as backend:
        assert backend.memory().io_buffer_bytes > 0


def test_a_plan_built_from_another_onnx_is_refused_as_stale(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, FUSION_SPEC, tiers)
    with pytest.raises(PlanMismatchError, match="the plan is stale. Rebuild it with: fuse-trt"):
        TensorRTBackend(plan, FUSION_SPEC, tiers, "fp32", model_onnx_sha256="00" * 32).activate()
    assert trt10.gpu.retained == 0 and trt10.gpu.allocations == {}


def test_profile_coverage_and_the_first_tiers_plan_by_hand(tiers):
    from pathlib import Path

    from fuse_trt.runtime.tensorrt_backend import _covers

    assert _covers((1, 3, 32, 32), (4, 3, 64, 64), (1, 3, 32, 32), (4, 3, 64, 64))
    assert not _covers((1, 3, 32, 32), (4, 3, 64, 64), (1, 3, 32, 32), (4, 3, 64))  # ranks
    assert not _covers((1, 3, 32), (4, 3, 64, 64), (1, 3, 32, 32), (4, 3, 64, 64))
    assert not _covers((1, 3, 32, 32), (2, 3, 64, 64), (1, 3, 32, 32), (4, 3, 64, 64))
    routes = {"32": Path("gpu.plan"), "48": Path("dla.plan"), "64": Path("dla.plan")}
    backend = TensorRTBackend(routes, FUSION_SPEC, tiers, "fp32")
    assert backend.plan_path == Path("gpu.plan") and backend.plan_routes == routes
