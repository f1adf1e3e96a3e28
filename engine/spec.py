"""The model's I/O contract as data: export, builder profiles, buffers and validation read it."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

from fuse_trt.engine.tiers import TierSpec

TensorLayout = Literal["image", "vector"]


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output.

    ``image`` tensors are [N, C, H, W] with N, H, W dynamic; ``vector`` tensors are [N, C]
    with only N dynamic (a static side input such as an identity embedding).
    """

    name: str
    channels: int
    layout: TensorLayout = "image"
    dtype: str = "float32"

    def shape(self, batch: int, height: int, width: int) -> tuple[int, ...]:
        if self.layout == "image":
            return (batch, self.channels, height, width)
        return (batch, self.channels)

    def describe(self) -> str:
        if self.layout == "image":
            return f"[N, {self.channels}, H, W] {self.dtype}"
        return f"[N, {self.channels}] {self.dtype}"

    def dynamic_axes(self) -> dict[int, str]:
        if self.layout == "image":
            return {0: "batch", 2: "height", 3: "width"}
        return {0: "batch"}


@dataclass(frozen=True)
class ModelSpec:
    """Names, channels, dynamic axes, stride, opset and tolerance of a fusion model."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    stride: int = 16
    opset: int = 17
    atol: float = 1e-4
    rtol: float = 1e-3
    description: str = field(default="", compare=False)

    @property
    def input_names(self) -> list[str]:
        return [tensor.name for tensor in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [tensor.name for tensor in self.outputs]

    def tensor(self, name: str) -> TensorSpec:
        for tensor in (*self.inputs, *self.outputs):
            if tensor.name == name:
                return tensor
        raise KeyError(f"model {self.name!r} has no tensor {name!r}")

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        return {tensor.name: tensor.dynamic_axes() for tensor in (*self.inputs, *self.outputs)}

    def profile_shapes(self, tier: TierSpec) -> dict[str, dict[str, tuple[int, ...]]]:
        """min/opt/max shape of every input for a tier (the TensorRT optimization profile)."""
        shapes = {}
        for tensor in self.inputs:
            shapes[tensor.name] = {
                key: tensor.shape(*dims) for key, dims in tier.batch_shapes().items()}
        return shapes

    def max_shapes(self, tier: TierSpec) -> dict[str, tuple[int, ...]]:
        """Largest shape of every input and output in a tier: what buffers are sized by."""
        batch, height, width = tier.batch_shapes()["max"]
        return {tensor.name: tensor.shape(batch, height, width)
                for tensor in (*self.inputs, *self.outputs)}

    def example_feed(self, batch: int, height: int, width: int, seed: int = 0) -> dict:
        """Deterministic random inputs in 0..1 for every input, in each input's dtype."""
        import numpy as np

        rng = np.random.default_rng(seed)
        return {tensor.name: rng.random(tensor.shape(batch, height, width),
                                        dtype=np.float32).astype(tensor.dtype, copy=False)
                for tensor in self.inputs}

    def tier_example_feed(self, tier: TierSpec, seed: int = 0) -> dict:
        """One example at ``tier``'s opt shape."""
        return self.example_feed(1, *tier.opt_shape, seed=seed)

    def with_io_dtypes(self, dtypes: dict[str, str]) -> ModelSpec:
        """This spec with the I/O dtypes a plan records (an FP16 plan takes float16)."""
        def retyped(tensors):
            return tuple(replace(t, dtype=dtypes.get(t.name, t.dtype)) for t in tensors)

        return replace(self, inputs=retyped(self.inputs), outputs=retyped(self.outputs))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ModelSpec:
        fields = dict(data)
        fields["inputs"] = tuple(TensorSpec(**tensor) for tensor in data["inputs"])
        fields["outputs"] = tuple(TensorSpec(**tensor) for tensor in data["outputs"])
        return cls(**fields)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)


FUSION_SPEC = ModelSpec(
    name="fusion-unet",
    inputs=(
        TensorSpec("composite", 3),  # colour-matched source face pasted on the target, RGB 0..1
        TensorSpec("mask", 1),  # soft face mask, 0..1
        TensorSpec("context", 3),  # target with the dilated mask region zeroed
    ),
    outputs=(TensorSpec("fused", 3),),
    description="Blend UNet: refines the classical composite inside the mask and its seam.",
)

IDENTITY_FUSION_SPEC = ModelSpec(
    name="fusion-unet-identity",
    inputs=(*FUSION_SPEC.inputs, TensorSpec("identity", 128, layout="vector")),
    outputs=FUSION_SPEC.outputs,
    description="Fusion UNet conditioned on a 128-d source identity embedding.",
)
