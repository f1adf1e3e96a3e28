"""A tiny bundle with an ONNX engine and a TensorRT plan (bytes plus a real sidecar), and a
reader that parses every config.pbtxt into Triton's own ModelConfig protobuf."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fuse_trt.build_engine.tensorrt_config import profile_table
from fuse_trt.engine.bundle import Bundle
from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path


def add_fake_plan(bundle: Bundle, precision: str = "fp16", max_batch: int = 3,
                  tensorrt_version: str = "10.16.1", gpu_name: str = "NVIDIA A2",
                  compute_capability: tuple[int, int] = (8, 6)) -> Bundle:
    """A plan artifact as `fuse-trt build --backend tensorrt` records one; the plan's bytes
    are not an engine (no server here has a TensorRT backend to load it)."""
    sm = "sm" + "".join(map(str, compute_capability))
    plan = bundle.directory / (f"{bundle.spec.name}.trt{tensorrt_version}."
                               f"{gpu_name.lower().replace(' ', '-')}-{sm}.{precision}.plan")
    plan.write_bytes(b"not-an-engine" * 64)
    # the plan's profiles carry their own batch range, as a plan built for another budget would
    tiers = tuple(replace(tier, max_batch=max_batch) for tier in bundle.tiers.tiers)
    profiles = profile_table(bundle.spec, tiers)
    PlanSidecar(model=bundle.spec.name, precision=precision, tensorrt_version=tensorrt_version,
                gpu_name=gpu_name, compute_capability=compute_capability, cuda_version="12.6",
                driver_version="560.35", onnx_file="model.onnx", onnx_sha256="0" * 64,
                profiles=profiles).write(sidecar_path(plan))
    details = {"tensorrt_version": tensorrt_version, "gpu_name": gpu_name,
               "compute_capability": list(compute_capability), "dla_core": None,
               "tiers": sorted(profiles)}
    bundle = bundle.add_artifact(plan, "plan", precision, "tensorrt", details)
    return bundle.add_artifact(sidecar_path(plan), "plan-sidecar", precision, "tensorrt")


def read_model_configs(repository: Path) -> dict:
    """{model name: ModelConfig} for every model directory of ``repository``."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    configs = {}
    for path in sorted(repository.glob("*/config.pbtxt")):
        config = text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
        configs[path.parent.name] = config
    return configs
