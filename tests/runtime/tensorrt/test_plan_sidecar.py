"""The sidecar format, plan file names and the rules for where a plan runs."""
from pathlib import Path

import pytest

from fuse_trt.engine.errors import PlanMismatchError
from fuse_trt.runtime.cuda_memory import GpuInfo
from fuse_trt.runtime.plan_sidecar import (PlanSidecar, check_plan_matches_model,
                                           check_plan_runs_here, plan_file_name,
                                           rebuild_command, sidecar_path)

ORIN = GpuInfo(0, "Orin (nvgpu)", (8, 7), "12.2.0", "12.2")
RTX = GpuInfo(0, "NVIDIA GeForce RTX 4090", (8, 9), "12.4.0", "12.4")
TURING = GpuInfo(0, "NVIDIA T4", (7, 5), "12.4.0", "12.4")


def sidecar(**changes) -> PlanSidecar:
    fields = dict(model="fusion-unet", precision="fp16", tensorrt_version="10.3.0",
                  gpu_name=ORIN.name, compute_capability=(8, 7), cuda_version="12.2.0",
                  driver_version="12.2", onnx_file="model.onnx", onnx_sha256="ab" * 32,
                  profiles={"512": {"index": 0, "inputs": {}}})
    return PlanSidecar(**{**fields, **changes})


def test_sidecar_round_trips_through_json(tmp_path):
    written = sidecar(dla_core=0, hardware_compat=True)
    assert PlanSidecar.read(written.write(tmp_path / "x.json")) == written


def test_plan_names_are_keyed_by_version_gpu_and_precision():
    assert plan_file_name("fusion-unet", "10.16.1.11", RTX, "fp16") == \
        "fusion-unet.trt10.16.1.11.nvidia-geforce-rtx-4090-sm89.fp16.plan"
    assert plan_file_name("m", "8.6.1", ORIN, "int8", dla_core=1) == \
        "m.trt8.6.1.orin-nvgpu-sm87.int8.dla1.plan"
    assert sidecar_path(Path("b/m.trt8.6.1.orin-nvgpu-sm87.int8.plan")) == \
        Path("b/m.trt8.6.1.orin-nvgpu-sm87.int8.json")


def test_a_matching_plan_passes():
    check_plan_runs_here(sidecar(), Path("b/p.plan"), "10.3.0", ORIN, "fp16")


@pytest.mark.parametrize("plan, version, gpu, match", [
    (sidecar(), "10.4.0", ORIN, "TensorRT: built with 10.3.0, running 10.4.0"),
    (sidecar(version_compatible=True), "11.4.0", ORIN, "built with 10.3.0, running 11.4.0"),
    (sidecar(version_compatible=True), "10.2.0", ORIN, "built with 10.3.0, running 10.2.0"),
    (sidecar(), "10.3.0", RTX, r"built for Orin \(nvgpu\) \(sm87\), running on NVIDIA GeForce"),
    (sidecar(hardware_compat=True), "10.3.0", TURING, r"running on NVIDIA T4 \(sm75\)"),
])
def test_mismatches_say_expected_found_and_rebuild(plan, version, gpu, match):
    with pytest.raises(PlanMismatchError, match=match) as error:
        check_plan_runs_here(plan, Path("bundle/p.plan"), version, gpu, "fp16")
    assert "fuse-trt build --backend tensorrt --precision fp16 -o bundle" in str(error.value)


def test_compatible_plans_run_on_newer_tensorrt_and_other_ampere_gpus():
    check_plan_runs_here(sidecar(version_compatible=True), Path("p.plan"), "10.16.1.11", ORIN,
                         "fp16")
    check_plan_runs_here(sidecar(hardware_compat=True), Path("p.plan"), "10.3.0", RTX, "fp16")


def test_hardware_compatible_plans_start_at_ampere_itself():
    a100 = GpuInfo(0, "NVIDIA A100", (8, 0), "12.4.0", "12.4")
    check_plan_runs_here(sidecar(hardware_compat=True), Path("p.plan"), "10.3.0", a100, "fp16")
    with pytest.raises(PlanMismatchError, match=r"sm75"):
        check_plan_runs_here(sidecar(hardware_compat=True), Path("p.plan"), "10.3.0", TURING,
                             "fp16")


def test_the_sidecar_file_is_sorted_json_and_frozen(tmp_path):
    import dataclasses
    import json

    text = sidecar().write(tmp_path / "x.json").read_text()
    keys = list(json.loads(text))
    assert keys == sorted(keys) and text.endswith("}\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sidecar().precision = "fp32"


def test_a_sidecar_written_before_the_optional_fields_reads_with_their_defaults(tmp_path):
    """Schema 1 as an older build wrote it: only the required fields, by hand."""
    import json

    path = tmp_path / "old.json"
    path.write_text(json.dumps({
        "model": "fusion-unet", "precision": "fp16", "tensorrt_version": "8.6.1",
        "gpu_name": "Orin (nvgpu)", "compute_capability": [8, 7], "cuda_version": "11.4",
        "driver_version": "11.4", "onnx_file": "model.onnx", "onnx_sha256": "cd" * 32,
        "profiles": {"512": {"index": 0, "inputs": {}}}}))
    old = PlanSidecar.read(path)
    assert (old.strongly_typed, old.hardware_compat, old.version_compatible, old.dla_core,
            old.source_onnx_sha256, old.schema) == (False, False, False, None, None, 1)
    assert json.loads(sidecar().write(tmp_path / "new.json").read_text())["schema"] == 1


def test_the_same_tensorrt_version_runs_a_version_compatible_plan():
    check_plan_runs_here(sidecar(version_compatible=True), Path("p.plan"), "10.3.0", ORIN, "fp16")


def test_rebuild_commands_name_dla_only_with_a_core_and_tiers():
    base = "fuse-trt build --backend tensorrt --precision int8 -o b"
    assert rebuild_command("int8", Path("b")) == base
    assert rebuild_command("int8", Path("b"), None, ("512",)) == base
    assert rebuild_command("int8", Path("b"), 1, ()) == base
    assert rebuild_command("int8", Path("b"), 0, ("512", "768")) == \
        base + " --dla-core 0 --dla-tiers 512,768"


def test_a_plan_is_checked_against_the_onnx_it_was_converted_from():
    """An FP16-I/O plan parsed a converted ONNX (onnx_sha256) made from the bundle's model.onnx
    (source_onnx_sha256): the bundle's hash must equal the source's; without a source, the
    parsed file's."""
    converted = sidecar(onnx_sha256="aa" * 32, source_onnx_sha256="bb" * 32)
    check_plan_matches_model(converted, Path("b/p.plan"), "bb" * 32, "fp16")
    check_plan_matches_model(converted, Path("b/p.plan"), None, "fp16")  # nothing to compare
    with pytest.raises(PlanMismatchError, match="sha256 bbbbbbbbbbbb, the bundle's model.onnx "
                                                "is aaaaaaaaaaaa: the plan is stale"):
        check_plan_matches_model(converted, Path("b/p.plan"), "aa" * 32, "fp16")
    parsed_itself = sidecar(onnx_sha256="cc" * 32)
    check_plan_matches_model(parsed_itself, Path("b/p.plan"), "cc" * 32, "fp16")
    with pytest.raises(PlanMismatchError, match="sha256 cccccccccccc, .*Rebuild it "
                                                "with: fuse-trt build --backend tensorrt"):
        check_plan_matches_model(parsed_itself, Path("b/p.plan"), "dd" * 32, "fp16")
