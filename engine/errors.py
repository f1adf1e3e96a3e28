"""The one exception family for user errors; anything else that escapes is a bug.

The CLI catches :class:`FuseTrtError` once, prints its message on one line and exits 1.
"""
from __future__ import annotations

__all__ = ["FuseTrtError", "ConfigError", "InputImageError", "NoFaceError", "BundleError",
           "BackendUnavailableError", "BackendClosedError", "InferenceInputError",
           "InferenceError", "ExportValidationError", "ModelContractError", "EngineBuildError",
           "PlanMismatchError", "AccuracyGateError", "ImageShapeError", "MemoryBudgetError",
           "RangeAuditError"]


class FuseTrtError(Exception):
    """A problem the user can fix: bad input, a missing file, an unsupported option."""


class ConfigError(FuseTrtError, ValueError):
    """An option or configuration value outside what fuse-trt offers, two that conflict, or
    one that cannot work (tiers off the stride, tracking, smoothing)."""


class InputImageError(FuseTrtError):
    """An image file that cannot be read, is too large, or is not an image."""


class NoFaceError(FuseTrtError):
    """No usable face was found where one is required."""


class BundleError(FuseTrtError):
    """A bundle directory that is missing, incomplete or does not match its manifest."""


class BackendUnavailableError(FuseTrtError):
    """A backend was asked for whose libraries or hardware are not present."""


class InferenceInputError(FuseTrtError):
    """A feed whose names, dtypes or shapes do not match the model and tier."""


class InferenceError(FuseTrtError):
    """A backend failed while running a feed; the message names the call and the tier."""


class ImageShapeError(FuseTrtError, ValueError):
    """Images or masks that must share a size do not."""


class ModelContractError(FuseTrtError):
    """An ONNX model whose inputs, outputs or dynamic axes are not its ModelSpec's."""


class ExportValidationError(FuseTrtError):
    """The exported ONNX disagrees with PyTorch beyond the model's tolerance."""

    def __init__(self, failures: list[str]):
        self.failures = list(failures)
        super().__init__("ONNX validation failed: " + "; ".join(self.failures))


class EngineBuildError(FuseTrtError):
    """A TensorRT build stage returned nothing or failed; the message names the stage."""


class PlanMismatchError(FuseTrtError):
    """A TensorRT plan built for another TensorRT version or GPU."""


class AccuracyGateError(FuseTrtError):
    """A reduced-precision artifact lost too much accuracy against FP32."""


class MemoryBudgetError(FuseTrtError):
    """A device-memory budget that cannot hold even one image of some tier."""


class BackendClosedError(FuseTrtError):
    """A backend used after (or while) another thread closed it."""


class RangeAuditError(FuseTrtError):
    """A reduced-precision graph types a tensor as float16 whose values do not fit float16."""
