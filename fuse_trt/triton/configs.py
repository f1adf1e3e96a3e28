"""Triton model configurations (as dicts for :mod:`fuse_trt.triton.pbtxt`) from a bundle.

Every model serves one tier: its batch bound is the tier's max batch and its image inputs
are [C, -1, -1] (Triton adds the batch axis itself). A TensorRT model has one instance
group whose ``profile`` names the optimization profile the plan holds for that tier, so a
request can only reach the profile whose shapes it was planned for.
"""
from __future__ import annotations

from fuse_trt.engine.spec import ModelSpec, TensorSpec
from fuse_trt.engine.tiers import TierSpec
from fuse_trt.triton.pbtxt import EnumValue

TRITON_DTYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "int8": "TYPE_INT8",
                 "int32": "TYPE_INT32", "int64": "TYPE_INT64", "uint8": "TYPE_UINT8"}
QUEUE_DELAY_US = 1000


def tensor_dims(tensor: TensorSpec) -> list[int]:
    """Dims without the batch axis; -1 where the spec has a dynamic axis."""
    return [tensor.channels, -1, -1] if tensor.layout == "image" else [tensor.channels]


def _tensors(tensors: tuple[TensorSpec, ...]) -> list[dict]:
    return [{"name": tensor.name, "data_type": EnumValue(TRITON_DTYPES[tensor.dtype]),
             "dims": tensor_dims(tensor)} for tensor in tensors]


def _common(name: str, spec: ModelSpec, max_batch: int) -> dict:
    return {"name": name, "max_batch_size": max_batch,
            "input": _tensors(spec.inputs), "output": _tensors(spec.outputs)}


def _batching(max_batch: int) -> dict:
    preferred = [max_batch] if max_batch > 1 else []
    batching = {"max_queue_delay_microseconds": QUEUE_DELAY_US}
    return {"preferred_batch_size": preferred, **batching} if preferred else batching


def _parameters(values: dict[str, str]) -> list[dict]:
    return [{"key": key, "value": {"string_value": value}} for key, value in values.items()]


def python_onnx_config(name: str, spec: ModelSpec, tier: TierSpec, precision: str) -> dict:
    """The CPU model: Triton's Python backend running the bundle's ONNX for one tier."""
    return {**_common(name, spec, tier.max_batch), "backend": "python",
            "instance_group": [{"kind": EnumValue("KIND_CPU"), "count": 1}],
            "dynamic_batching": _batching(tier.max_batch),
            "parameters": _parameters({"fuse_trt_tier": tier.name,
                                       "fuse_trt_precision": precision})}


def tensorrt_plan_config(name: str, spec: ModelSpec, tier_name: str, profile_index: int,
                         max_batch: int) -> dict:
    """A ``tensorrt_plan`` model for one tier of a plan: one GPU instance on its profile."""
    return {**_common(name, spec, max_batch), "platform": "tensorrt_plan",
            "default_model_filename": "model.plan",
            "instance_group": [{"kind": EnumValue("KIND_GPU"), "count": 1,
                                "profile": [str(profile_index)]}],
            "dynamic_batching": _batching(max_batch),
            "parameters": _parameters({"fuse_trt_tier": tier_name})}
