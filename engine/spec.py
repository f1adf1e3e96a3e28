"""The model's I/O contract as data: export, builder profiles, buffers and validation read it."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np

from fuse_trt.engine.errors import InferenceInputError
from fuse_trt.engine.tiers import TierPlan, TierSpec

TensorLayout = Literal["image", "vector"]
_UINT8_SCALE = 1.0 / 255.0


def from_planar(planar: np.ndarray) -> np.ndarray:
    """CxHxW float 0..1 -> HxWxC uint8."""
    scaled = np.clip(planar.transpose(1, 2, 0), 0.0, 1.0)
    scaled *= 255.0
    scaled += 0.5
    return scaled.astype(np.uint8)


def _write_planar(image: np.ndarray, out: np.ndarray) -> None:
    """``image`` (HxW[xC]) into the CxHxW array ``out``, scaled to 0..1 if it is uint8."""
    source = image.reshape(*image.shape[:2], -1).transpose(2, 0, 1)
    if image.dtype == np.uint8:
        np.multiply(source, np.float32(_UINT8_SCALE), out=out, casting="unsafe")
    else:
        np.copyto(out, source, casting="unsafe")


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

    def batch(self, values: Sequence[np.ndarray]) -> np.ndarray:
        """One value per sample -> this input's batch in its layout and dtype: images
        (HxW[xC], uint8 0..255 or float 0..1) become [N, C, H, W] in 0..1, vectors [N, C]."""
        if self.layout == "vector":
            return np.stack([np.asarray(value, dtype=self.dtype).reshape(self.channels)
                             for value in values])
        out = np.empty(self.shape(len(values), *values[0].shape[:2]), self.dtype)
        for index, image in enumerate(values):
            channels = 1 if image.ndim == 2 else image.shape[2]
            if channels != self.channels or image.shape[:2] != out.shape[2:]:
                raise InferenceInputError(
                    f"input {self.name!r}: sample {index} is {image.shape}, expected "
                    f"{out.shape[2:]} with {self.channels} channel(s) like the others")
            _write_planar(image, out[index])
        return out


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

    @property
    def vector_inputs(self) -> tuple[TensorSpec, ...]:
        """The static side inputs (such as an identity embedding), fed per sample."""
        return tuple(tensor for tensor in self.inputs if tensor.layout == "vector")

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        return {tensor.name: tensor.dynamic_axes() for tensor in (*self.inputs, *self.outputs)}

    def feed(self, samples: Sequence[Mapping[str, np.ndarray]],
             plans: Sequence[TierPlan] | None = None) -> dict[str, np.ndarray]:
        """The feed for a batch: ``samples[i][name]`` is sample i's value of input ``name``
        (an HxW[xC] image or a [C] vector); ``plans[i]``, if given, fits sample i's images to
        its tier first. Values the model does not read are never touched."""
        if plans is not None and len(plans) != len(samples):
            raise ValueError(f"{len(samples)} samples but {len(plans)} tier plans")
        feed = {}
        for tensor in self.inputs:
            values = [sample[tensor.name] for sample in samples]
            if plans is not None and tensor.layout == "image":
                values = [plan.apply(value) for plan, value in zip(plans, values)]
            feed[tensor.name] = tensor.batch(values)
        return feed

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
