"""`fuse-trt export-triton`: every config.pbtxt, TensorRT ones included, parsed into Triton's
ModelConfig protobuf and checked against the bundle."""
from __future__ import annotations

import pytest
from tritonclient.grpc import model_config_pb2

from fuse_trt.cli import main
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.errors import FuseTrtError
from fuse_trt.engine.files import sha256_file
from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path
from fuse_trt.triton import export_triton
from fuse_trt.triton.configs import TRITON_DTYPES
from tests.conftest import make_tiny_bundle
from tests.triton.repository import add_fake_plan, read_model_configs

DataType = model_config_pb2.DataType


@pytest.fixture(scope="module")
def planned_bundle(tmp_path_factory):
    bundle, _ = make_tiny_bundle(tmp_path_factory.mktemp("bundle"))
    return add_fake_plan(bundle, max_batch=3)


def check_tensors(config, bundle: Bundle) -> None:
    for entries, tensors in ((config.input, bundle.spec.inputs),
                             (config.output, bundle.spec.outputs)):
        assert [entry.name for entry in entries] == [tensor.name for tensor in tensors]
        for entry, tensor in zip(entries, tensors):
            assert DataType.Name(entry.data_type) == TRITON_DTYPES[tensor.dtype]
            assert list(entry.dims) == [tensor.channels, -1, -1]


def test_every_config_parses_and_matches_the_bundle(planned_bundle, tmp_path):
    models = export_triton(planned_bundle, tmp_path / "repo")
    configs = read_model_configs(tmp_path / "repo")
    tiers = planned_bundle.tiers
    assert sorted(configs) == sorted(m.name for m in models)
    assert sorted(configs) == sorted([f"fusion_onnx_fp32_{t.name}" for t in tiers]
                                     + [f"fusion_trt_fp16_{t.name}" for t in tiers])
    sidecar = PlanSidecar.read(sidecar_path(planned_bundle.artifact_path("plan", "fp16")))
    for tier in tiers:
        onnx = configs[f"fusion_onnx_fp32_{tier.name}"]
        assert (onnx.backend, onnx.max_batch_size) == ("python", tier.max_batch)
        assert [group.kind for group in onnx.instance_group] == [
            model_config_pb2.ModelInstanceGroup.KIND_CPU]
        assert onnx.parameters["fuse_trt_tier"].string_value == tier.name
        plan = configs[f"fusion_trt_fp16_{tier.name}"]
        assert (plan.platform, plan.max_batch_size) == ("tensorrt_plan", 3)
        assert [list(group.profile) for group in plan.instance_group] == [
            [str(sidecar.profile_index(tier.name))]]
        assert plan.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
        for config in (onnx, plan):
            check_tensors(config, planned_bundle)
            assert config.HasField("dynamic_batching")
            assert config.dynamic_batching.max_queue_delay_microseconds > 0
            assert all(size <= config.max_batch_size
                       for size in config.dynamic_batching.preferred_batch_size)


def test_profiles_differ_per_tier_and_files_are_the_bundle_s(planned_bundle, tmp_path):
    export_triton(planned_bundle, tmp_path / "repo")
    configs = read_model_configs(tmp_path / "repo")
    profiles = [configs[f"fusion_trt_fp16_{t.name}"].instance_group[0].profile[0]
                for t in planned_bundle.tiers]
    assert profiles == ["0", "1", "2"]
    plan_sha = sha256_file(planned_bundle.artifact_path("plan", "fp16"))
    onnx_sha = sha256_file(planned_bundle.artifact_path("onnx", "fp32"))
    for tier in planned_bundle.tiers:
        assert sha256_file(tmp_path / "repo" / f"fusion_trt_fp16_{tier.name}" / "1" /
                           "model.plan") == plan_sha
        version = tmp_path / "repo" / f"fusion_onnx_fp32_{tier.name}" / "1"
        assert sha256_file(version / "model.onnx") == onnx_sha
        assert (version / "model.py").read_text().count("class TritonPythonModel") == 1
    readme = (tmp_path / "repo" / "README.md").read_text()
    assert "tritonserver --model-repository" in readme and "fusion_trt_fp16_64" in readme


def test_an_existing_non_empty_repository_is_refused(planned_bundle, tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "keep.txt").write_text("mine")
    with pytest.raises(FuseTrtError, match="not an empty directory"):
        export_triton(planned_bundle, tmp_path / "repo")
    assert [p.name for p in (tmp_path / "repo").iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["repo"]  # no staging left behind


def test_cli_export_triton(planned_bundle, tmp_path, capsys):
    main(["export-triton", str(planned_bundle.directory), "-o", str(tmp_path / "repo")])
    out = capsys.readouterr().out
    assert "6 models" in out and (tmp_path / "repo" / "fusion_onnx_fp32_32" / "config.pbtxt").is_file()


def test_the_triton_backend_without_url_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fuse", "sample:grace_hopper", "sample:astronaut", "-o", str(tmp_path / "o.png"),
              "--blend", "unet", "--backend", "triton"])
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and err.count("\n") == 1
    assert "needs the server's address: --url HOST:PORT" in err
    assert not (tmp_path / "o.png").exists()
