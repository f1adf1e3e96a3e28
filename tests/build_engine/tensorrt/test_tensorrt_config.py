"""Profiles per tier and the plans a build config asks for."""
from pathlib import Path

import pytest

from fuse_trt.build_engine.tensorrt_config import TensorRTBuildConfig, plan_jobs, profile_table
from fuse_trt.engine.spec import IDENTITY_FUSION_SPEC
from fuse_trt.engine.errors import EngineBuildError


def test_one_profile_per_tier_with_batch_one_to_max_and_opt_one(tiers):
    table = profile_table(IDENTITY_FUSION_SPEC, tiers.tiers)
    assert list(table) == ["32", "48", "64"]
    assert [entry["index"] for entry in table.values()] == [0, 1, 2]
    composite = table["48"]["inputs"]["composite"]
    assert composite == {"min": [1, 3, 48, 48], "opt": [1, 3, 48, 48], "max": [4, 3, 48, 96]}
    identity = table["48"]["inputs"]["identity"]
    assert identity == {"min": [1, 128], "opt": [1, 128], "max": [4, 128]}


def test_max_batch_override_and_static_dla_profiles(tiers):
    wide = profile_table(IDENTITY_FUSION_SPEC, tiers.tiers, max_batch=8)
    assert wide["32"]["inputs"]["mask"]["max"] == [8, 1, 32, 64]
    static = profile_table(IDENTITY_FUSION_SPEC, tiers.tiers, static=True)
    for bounds in static["64"]["inputs"].values():
        assert bounds["min"] == bounds["opt"] == bounds["max"]


def test_dla_tiers_get_their_own_plan(tiers):
    config = TensorRTBuildConfig(dla_core=0, dla_tiers=("32",))
    gpu, dla = plan_jobs(Path("b"), Path("b/model.onnx"), IDENTITY_FUSION_SPEC, tiers, config)
    assert [t.name for t in gpu.tiers] == ["48", "64"] and gpu.dla_core is None
    assert [t.name for t in dla.tiers] == ["32"] and dla.dla_core == 0
    assert len(plan_jobs(Path("b"), Path("m"), IDENTITY_FUSION_SPEC, tiers,
                         TensorRTBuildConfig())) == 1


@pytest.mark.parametrize("fields, match", [
    ({"precision": "int4"}, "unknown precision"), ({"workspace_bytes": 0}, "positive"),
    ({"dla_tiers": ("32",)}, "need a dla_core"), ({"max_batch": 0}, "at least 1")])
def test_bad_configs_are_refused(fields, match):
    with pytest.raises(EngineBuildError, match=match):
        TensorRTBuildConfig(**fields)


def test_unknown_dla_tiers_are_refused(tiers):
    with pytest.raises(EngineBuildError, match=r"\['2048'\] are not in the tier table"):
        plan_jobs(Path("b"), Path("m"), IDENTITY_FUSION_SPEC, tiers,
                  TensorRTBuildConfig(dla_core=0, dla_tiers=("2048",)))
