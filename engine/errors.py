"""The one exception family for user errors; anything else that escapes is a bug.

The CLI catches :class:`FuseTrtError` once, prints its message on one line and exits 1.
"""
from __future__ import annotations

__all__ = ["FuseTrtError", "ConfigError", "InputImageError", "NoFaceError", "BundleError", "BackendUnavailableError", "InferenceInputError", "ExportValidationError", "EngineBuildError", "PlanMismatchError", "AccuracyGateError", "MemoryBudgetError", "BackendClosedError"]


class FuseTrtError(Exception):
    """A problem the user can fix: bad input, a missing file, an unsupported option."""


class ConfigError(FuseTrtError):
    """An option or configuration value outside what fuse-trt offers, or two that conflict."""


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
