"""The vocabulary of every choice fuse-trt offers, defined once in the bottom layer.

Each choice is a ``StrEnum``: a member compares equal to its string, so manifests, JSON and
click options keep plain strings while code names members. Click choices are derived from
these (:func:`values`), configs are typed by them and convert strings with :func:`parse`.
"""
from __future__ import annotations

import enum
from typing import TypeVar

from fuse_trt.engine.errors import ConfigError

try:
    from enum import StrEnum
except ImportError:  # Python 3.10 (JetPack 6)
    class StrEnum(str, enum.Enum):
        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


class BackendName(StrEnum):
    AUTO = "auto"
    ONNXRUNTIME = "onnxruntime"
    TORCH = "torch"
    TENSORRT = "tensorrt"
    TRITON = "triton"  # a Triton server (--url); never chosen by auto


class Precision(StrEnum):
    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"


class Composite(StrEnum):
    """The classical fusion the UNet refines: LAB colour transfer + feathered alpha blend,
    or OpenCV's Poisson ``seamlessClone``."""

    COLOUR = "colour"
    SEAMLESS = "seamless"


class Refine(StrEnum):
    """Whether the bundle's UNet refines the composite."""

    UNET = "unet"
    NONE = "none"


class Blend(StrEnum):
    """Deprecated single option (``--blend``) that mixed composite and refinement."""

    CLASSIC = "classic"
    UNET = "unet"
    SEAMLESS = "seamless"

    @property
    def composite(self) -> Composite:
        return Composite.SEAMLESS if self is Blend.SEAMLESS else Composite.COLOUR

    @property
    def refine(self) -> Refine:
        return Refine.UNET if self is Blend.UNET else Refine.NONE


class Region(StrEnum):
    """What the UNet runs on: the face with context, or the whole frame."""

    FACE = "face"
    FRAME = "frame"


class FaceChoice(StrEnum):
    """Which target faces to fuse; a face index (largest first) is the third form."""

    LARGEST = "largest"
    ALL = "all"


class ArtifactKind(StrEnum):
    """What one file of a bundle is (``Artifact.kind`` in the manifest)."""

    WEIGHTS = "weights"
    ONNX = "onnx"
    ONNX_QDQ = "onnx-qdq"
    ONNX_FP16_IO = "onnx-fp16-io"  # FP16 in and out: strongly typed TensorRT FP16 plans' input
    PLAN = "plan"
    PLAN_SIDECAR = "plan-sidecar"
    TIMING_CACHE = "timing-cache"


ANY = "any"  # Artifact.backend / precision of a file every backend or precision may use

E = TypeVar("E", bound=StrEnum)


def values(choice: type[StrEnum]) -> list[str]:
    """The strings of ``choice``, in declaration order (for click.Choice and messages)."""
    return [member.value for member in choice]


def parse(choice: type[E], value: object, what: str) -> E:
    """``value`` as a member of ``choice``; a :class:`ConfigError` naming ``what`` if not."""
    try:
        return choice(value)
    except (ValueError, TypeError):
        raise ConfigError(f"unknown {what} {value!r}; choose one of "
                          f"{', '.join(values(choice))}") from None
