"""The TensorRT builder on the emulation: plans, sidecars, precision per version, failures."""
import hashlib
import json
import logging
from pathlib import Path

import onnx
import pytest

from fuse_trt.build_engine.tensorrt_builder import (ConfigFor, NetworkFromOnnxPath,
                                                    SerializedEngineFromNetwork,
                                                    build_tensorrt_plans)
from fuse_trt.build_engine.tensorrt_config import PlanJob, TensorRTBuildConfig, profile_table
from fuse_trt.engine.spec import FUSION_SPEC, IDENTITY_FUSION_SPEC
from fuse_trt.engine.errors import BackendUnavailableError, EngineBuildError
from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path
from fuse_trt.runtime.trt_compat import PrecisionRecipe, load_tensorrt
from tests.support.tensorrt import plan_header
from tests.support.tensorrt.building import build_plan
from tests.support.tensorrt.models import tiny_onnx, unsupported_op_onnx

SPEC = IDENTITY_FUSION_SPEC


def test_plan_and_sidecar_say_what_the_plan_was_built_for(emulated, tiers, tmp_path):
    plan = build_plan(tmp_path, SPEC, tiers, "fp16")
    assert plan.name == f"{SPEC.name}.trt{emulated.version}.emulated-gpu-sm87.fp16.plan"
    sidecar = PlanSidecar.read(sidecar_path(plan))
    assert (sidecar.tensorrt_version, sidecar.gpu_name, sidecar.compute_capability) == \
        (emulated.version, "Emulated GPU", (8, 7))
    assert (sidecar.cuda_version, sidecar.driver_version, sidecar.precision) == \
        ("12.4.0", "12.4", "fp16")
    parsed = tmp_path / sidecar.onnx_file
    assert sidecar.onnx_sha256 == hashlib.sha256(parsed.read_bytes()).hexdigest()
    assert sidecar.profiles == profile_table(SPEC, tiers.tiers)
    header = plan_header(plan)
    assert [p["identity"] for p in header["profiles"]] == \
        [[[1, 128], [1, 128], [4, 128]]] * len(tiers)
    assert header["workspace"] == TensorRTBuildConfig().workspace_bytes


def test_fp16_comes_from_flags_before_11_and_from_an_fp16_onnx_in_11(emulated, tiers, tmp_path):
    plan = build_plan(tmp_path, SPEC, tiers, "fp16")
    header, sidecar = plan_header(plan), PlanSidecar.read(sidecar_path(plan))
    assert header["precision"] == "fp16"
    if emulated.version.startswith("11."):
        assert (sidecar.onnx_file, header["flags"], sidecar.strongly_typed) == \
            ("model.fp16-io.onnx", ["TF32"], True)
    else:
        assert (sidecar.onnx_file, "FP16" in header["flags"], sidecar.strongly_typed) == \
            ("model.onnx", True, False)
    # FP16 plans take and return FP16 on every version: set on the network before 11, from
    # the FP16-I/O ONNX in 11; the sidecar records it for the runtime
    io = {**header["inputs"], **header["outputs"]}
    assert {name: entry["dtype"] for name, entry in io.items()} == dict.fromkeys(io, "HALF")
    assert sidecar.io_dtypes == dict.fromkeys(io, "float16")


def test_fp32_plans_keep_fp32_io(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, SPEC, tiers, "fp32")
    assert {entry["dtype"] for entry in plan_header(plan)["inputs"].values()} == {"FLOAT"}
    assert set(PlanSidecar.read(sidecar_path(plan)).io_dtypes.values()) == {"float32"}


def test_strongly_typed_10x_builds_from_the_fp16_onnx(trt10, tiers, tmp_path):
    plan = build_plan(tmp_path, SPEC, tiers, "fp16", strongly_typed=True)
    header = plan_header(plan)
    assert (header["precision"], header["strongly_typed"], header["flags"]) == \
        ("fp16", True, ["TF32"])


def test_parser_errors_are_reported_with_their_node(emulated, tiers, tmp_path):
    onnx_path = unsupported_op_onnx(SPEC, tmp_path / "bad.onnx")
    with pytest.raises(EngineBuildError, match="could not parse") as error:
        build_plan(tmp_path, SPEC, tiers, onnx_path=onnx_path)
    node = len(onnx.load(str(onnx_path)).graph.node) - 1
    where = f"node {node}: " if emulated.version.startswith("8.") else \
        f"node {node} 'bogus_node' (FrobnicateTensor): "
    assert f"{where}no importer for operator FrobnicateTensor" in str(error.value)


def job_for(tmp_path, tiers, **config) -> PlanJob:
    return PlanJob(tmp_path, tiny_onnx(SPEC, tmp_path / "model.onnx"), SPEC, tiers.tiers,
                   TensorRTBuildConfig(**config))


def test_a_step_that_returns_nothing_is_named(trt10, tiers, tmp_path):
    job = job_for(tmp_path, tiers)
    engine = SerializedEngineFromNetwork(NetworkFromOnnxPath(load_tensorrt(), job.onnx_path),
                                         lambda parsed: None)
    with pytest.raises(EngineBuildError, match="nothing when asked to configure the build"):
        engine()


def test_a_failed_build_is_an_error_and_tensorrt_says_why(trt10, tiers, tmp_path, caplog):
    compat, job = load_tensorrt(), job_for(tmp_path, tiers)
    weak_fp16 = PrecisionRecipe("fp32", ("FP16",), False, None)
    engine = SerializedEngineFromNetwork(
        NetworkFromOnnxPath(compat, job.onnx_path, strongly_typed=True),
        ConfigFor(compat, job, weak_fp16, profile_table(SPEC, job.tiers)))
    with pytest.raises(EngineBuildError, match="build_serialized_network returned nothing"):
        engine()
    assert any(r.levelno == logging.ERROR and "not allowed in a strongly typed" in r.getMessage()
               for r in caplog.records)


def test_the_timing_cache_is_loaded_and_saved_around_every_build(trt10, tiers, tmp_path, caplog):
    cache = tmp_path / "timing-cache.trt10.16.1.11.emulated-gpu-sm87.bin"
    builds = []
    for _ in range(2):
        build_plan(tmp_path, FUSION_SPEC, tiers)
        builds.append(json.loads(cache.read_bytes().partition(b"\n")[2])["builds"])
    assert builds == [1, 2]
    cache.write_bytes(cache.read_bytes().replace(b"10.16.1.11", b"10.3.0"))
    build_plan(tmp_path, FUSION_SPEC, tiers)
    assert json.loads(cache.read_bytes().partition(b"\n")[2])["builds"] == 1
    assert "does not match this TensorRT/GPU; starting afresh" in caplog.text


def test_8_6_refuses_onnx_newer_than_opset_17(emulated, tiers, tmp_path):
    onnx_path = tiny_onnx(SPEC, tmp_path / "model18.onnx", opset=18)
    if not emulated.version.startswith("8."):
        assert build_plan(tmp_path, SPEC, tiers, onnx_path=onnx_path).is_file()
        return
    with pytest.raises(EngineBuildError, match="opset 18; TensorRT 8.6.1 reads up to opset 17"):
        build_plan(tmp_path, SPEC, tiers, onnx_path=onnx_path)


def test_int8_asks_for_what_the_version_quantizes_with(emulated, tiers, tmp_path):
    mode = load_tensorrt().int8_mode()
    needed = "int8_calibrator_factory" if mode == "implicit" else "int8_qdq_onnx"
    with pytest.raises(EngineBuildError, match=f"give (an )?{needed}"):
        build_tensorrt_plans(tmp_path, tiny_onnx(SPEC, tmp_path / "m.onnx"), SPEC, tiers,
                             TensorRTBuildConfig(precision="int8"))
    plan = build_plan(tmp_path, SPEC, tiers, "int8")
    assert plan_header(plan)["precision"] == "int8"


def test_the_calibrator_factory_gets_the_tensorrt_module(trt10, tiers, tmp_path):
    made = []

    def factory(trt):
        from tests.support.tensorrt.building import make_calibrator

        calibrator = make_calibrator({t.name: (1, t.channels, 32, 32) if t.layout == "image"
                                      else (1, t.channels) for t in SPEC.inputs}, trt)
        made.append((trt, calibrator))
        return calibrator

    build_plan(tmp_path, SPEC, tiers, "int8", int8_calibrator_factory=factory)
    [(trt, calibrator)] = made
    assert trt is trt10.trt and calibrator.remaining == 0
    assert calibrator.cache == b"emulated-calibration-cache"


def test_dla_plans_are_static_with_gpu_fallback(trt10, tiers, tmp_path):
    from fuse_trt.build_engine.tensorrt_builder import build_plan as build_one

    job = job_for(tmp_path, tiers, dla_core=1, dla_tiers=("32", "48", "64"))
    plan = build_one(PlanJob(**{**job.__dict__, "on_dla": True}))
    header = plan_header(plan)
    assert plan.name.endswith(".fp16.dla1.plan") and header["dla_core"] == 1
    assert "GPU_FALLBACK" in header["flags"]
    assert all(low == opt == high for profile in header["profiles"]
               for low, opt, high in profile.values())
    assert PlanSidecar.read(sidecar_path(plan)).dla_core == 1


def test_compatibility_options_map_to_the_real_flags(emulated, tiers, tmp_path):
    plan = build_plan(tmp_path, SPEC, tiers, "fp16", hardware_compat=True,
                      version_compatible=True)
    header, sidecar = plan_header(plan), PlanSidecar.read(sidecar_path(plan))
    assert header["hardware_compat"] and "VERSION_COMPATIBLE" in header["flags"]
    assert sidecar.hardware_compat and sidecar.version_compatible


def test_several_plans_are_built_each_in_a_fresh_process(trt10, tiers, tmp_path):
    """The stand-in exists only in this process: a spawned builder cannot import it."""
    onnx_path = tiny_onnx(SPEC, tmp_path / "model.onnx")
    config = TensorRTBuildConfig(dla_core=0, dla_tiers=("32",))
    with pytest.raises(BackendUnavailableError, match="TensorRT is not importable"):
        build_tensorrt_plans(tmp_path, onnx_path, SPEC, tiers, config)
    assert not list(Path(tmp_path).glob("*.plan"))


def test_fp32_plans_are_built_without_tf32_and_say_so(emulated, tiers, tmp_path):
    """TF32 is on by default in TensorRT: an "fp32" plan would round convolution inputs."""
    plan = build_plan(tmp_path / "fp32", SPEC, tiers, "fp32")
    sidecar = PlanSidecar.read(sidecar_path(plan))
    assert "TF32" not in plan_header(plan)["flags"] and sidecar.tf32 is False
    fp16 = PlanSidecar.read(sidecar_path(build_plan(tmp_path / "fp16", SPEC, tiers, "fp16")))
    assert fp16.tf32 is True


def test_an_inconsistent_profile_is_an_engine_build_error(trt10, tiers, tmp_path):
    """IOptimizationProfile.set_shape raises RuntimeError in the bindings; it must not escape."""
    from fuse_trt.build_engine import tensorrt_config

    def inverted(*args, **kwargs):
        table = original(*args, **kwargs)
        bounds = next(iter(table.values()))["inputs"]["composite"]
        bounds["min"], bounds["max"] = bounds["max"], bounds["min"]
        return table

    original = tensorrt_config.profile_table
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("fuse_trt.build_engine.tensorrt_builder.profile_table", inverted)
        with pytest.raises(EngineBuildError, match="invalid optimization profile for tier 32"):
            build_plan(tmp_path, FUSION_SPEC, tiers, "fp32")
