"""Conformance: the real builder and runtime against a strict stand-in of each TensorRT version.

For every version the real code builds FP32, FP16 and INT8 plans (plus strongly typed,
hardware/version-compatible, DLA and a failing parse), activates the backend and runs every
tier. The stand-in raises on anything its dump lacks, so passing means every attribute the
code touched exists in that version. The attributes touched per version are written to
``.pytest_cache/d/fuse_trt/trt-api-usage.{json,md}`` and printed (``pytest -rP`` shows them).
"""
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fuse_trt.engine.spec import IDENTITY_FUSION_SPEC
from fuse_trt.engine.tiers import TierTable
from fuse_trt.engine.errors import EngineBuildError
from fuse_trt.runtime.tensorrt_backend import TensorRTBackend
from tests.conftest import tiny_tiers
from tests.support.tensorrt import VERSIONS, emulate, plan_header
from tests.support.tensorrt.building import build_plan
from tests.support.tensorrt.dump import load_dump
from tests.support.tensorrt.models import feed_for, unsupported_op_onnx

SPEC = IDENTITY_FUSION_SPEC  # image inputs and a [N, 128] vector input

EXPECTED_PATHS = {  # version -> (attributes it must touch, attributes it must not)
    "8.6.1": ({"ICudaEngine.create_execution_context_without_device_memory",
               "ICudaEngine.device_memory_size", "IExecutionContext.device_memory",
               "NetworkDefinitionCreationFlag.EXPLICIT_BATCH", "BuilderFlag.FP16",
               "BuilderFlag.INT8", "IBuilderConfig.int8_calibrator", "ParserError.node",
               "ITensor.dtype", "DataType.HALF"},
              {"ExecutionContextAllocationStrategy.USER_MANAGED", "ParserError.node_name",
               "IExecutionContext.set_device_memory", "ICudaEngine.get_engine_stat"}),
    "10.3.0": ({"ExecutionContextAllocationStrategy.USER_MANAGED",
                "IExecutionContext.set_device_memory",
                "ICudaEngine.get_device_memory_size_for_profile_v2",
                "NetworkDefinitionCreationFlag.STRONGLY_TYPED", "BuilderFlag.INT8",
                "IBuilderConfig.int8_calibrator", "ParserError.node_name"},
               {"ICudaEngine.create_execution_context_without_device_memory",
                "ICudaEngine.get_engine_stat", "IExecutionContext.device_memory"}),
    "10.16.1.11": ({"ExecutionContextAllocationStrategy.USER_MANAGED",
                    "ICudaEngine.get_engine_stat", "NetworkDefinitionCreationFlag.EXPLICIT_BATCH",
                    "NetworkDefinitionCreationFlag.STRONGLY_TYPED", "BuilderFlag.FP16"},
                   {"ICudaEngine.device_memory_size", "IExecutionContext.device_memory"}),
    "11.4.0.106": ({"NetworkDefinitionCreationFlag.STRONGLY_TYPED",
                    "ExecutionContextAllocationStrategy.USER_MANAGED",
                    "ICudaEngine.get_engine_stat", "IExecutionContext.set_device_memory"},
                   {"BuilderFlag.FP16", "BuilderFlag.INT8", "IBuilderConfig.int8_calibrator",
                    "NetworkDefinitionCreationFlag.EXPLICIT_BATCH"}),
}


def run_every_tier(plan: Path, tiers: TierTable, precision: str) -> None:
    with TensorRTBackend(plan, SPEC, tiers, precision) as backend:
        for tier in tiers:
            feed = {name: array.astype(backend.spec.tensor(name).dtype) for name, array in
                    feed_for(SPEC, tier.max_batch, *tier.max_shape).items()}  # FP16 plans: FP16
            fused = backend.infer(tier, feed)["fused"]
            assert fused.shape == (tier.max_batch, 3, *tier.max_shape)
            assert np.isfinite(fused).all()
        assert backend.memory().total_bytes > 0


def static_tiers(tiers: TierTable) -> TierTable:
    """DLA tiers: min = opt = max, batch 1."""
    return TierTable(tuple(replace(t, min_shape=t.opt_shape, max_shape=t.opt_shape, max_batch=1)
                           for t in tiers), tiers.stride)


def exercise(version: str, workdir: Path) -> set[str]:
    """Every builder and runtime path on one version; returns the attributes touched."""
    tiers = tiny_tiers()
    with pytest.MonkeyPatch.context() as patch:
        emulated = emulate(version).install(patch)
        for precision in ("fp32", "fp16", "int8"):
            plan = build_plan(workdir / precision, SPEC, tiers, precision)
            assert plan_header(plan)["precision"] == precision
            run_every_tier(plan, tiers, precision)
        compatible = build_plan(workdir / "compat", SPEC, tiers, "fp16", hardware_compat=True,
                                version_compatible=True)
        run_every_tier(compatible, tiers, "fp16")
        if not version.startswith("8."):
            run_every_tier(build_plan(workdir / "typed", SPEC, tiers, "fp16", strongly_typed=True),
                           tiers, "fp16")
        first = TierTable(tiers.tiers[:1], tiers.stride)
        dla = build_plan(workdir / "dla", SPEC, first, "fp16", dla_core=0, dla_tiers=("32",))
        run_every_tier(dla, static_tiers(first), "fp16")
        with pytest.raises(EngineBuildError, match="FrobnicateTensor"):
            build_plan(workdir / "bad", SPEC, tiers,
                       onnx_path=unsupported_op_onnx(SPEC, workdir / "bad.onnx"))
        return set(emulated.touched())


@pytest.fixture(scope="module")
def api_usage(tmp_path_factory) -> dict[str, set[str]]:
    return {version: exercise(version, tmp_path_factory.mktemp(version)) for version in VERSIONS}


def dumped_names(version: str) -> set[str]:
    dump = load_dump(version)
    names = {"__version__", *dump["classes"], *dump["functions"]}
    return names | {f"{cls}.{member}" for cls, members in dump["classes"].items()
                    for member in members}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_attribute_touched_exists_in_that_versions_dump(api_usage, version):
    assert api_usage[version] - dumped_names(version) == set()


@pytest.mark.parametrize("version", VERSIONS)
def test_each_version_takes_its_own_branch(api_usage, version):
    present, absent = EXPECTED_PATHS[version]
    assert present <= api_usage[version]
    assert not absent & api_usage[version]


def test_report_attributes_used_per_version(api_usage, request, tmp_path):
    cache = getattr(request.config, "cache", None)
    out = cache.mkdir("fuse_trt") if cache is not None else tmp_path
    (out / "trt-api-usage.json").write_text(json.dumps(
        {version: sorted(names) for version, names in api_usage.items()}, indent=2))
    every = sorted(set().union(*api_usage.values()))
    rows = ["| attribute | " + " | ".join(VERSIONS) + " |", "|---" * (len(VERSIONS) + 1) + "|"]
    rows += [f"| `{name}` | " + " | ".join("x" if name in api_usage[v] else "" for v in VERSIONS)
             + " |" for name in every]
    (out / "trt-api-usage.md").write_text("\n".join(rows) + "\n")
    print(f"TensorRT attributes used per version -> {out / 'trt-api-usage.md'}")
    print("\n".join(f"{v}: {len(api_usage[v])} attributes" for v in VERSIONS))
    print("\n".join(rows))
    assert all(api_usage.values())
