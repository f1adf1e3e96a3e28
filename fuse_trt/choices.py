"""The option vocabularies shared by the API and every CLI command, defined once so help
text and validation cannot drift. Light on purpose: the CLI imports it for --help."""
from __future__ import annotations

from fuse_trt.runtime.select import BACKEND_CHOICES, PRECISION_CHOICES

BLEND_CHOICES = ("classic", "unet", "seamless")
# docs/quality.md: the trained UNet beats colour transfer but not seamlessClone's in-mask
# PSNR on held-out faces, so the classical blend stays the default until one does.
DEFAULT_BLEND = "classic"
REGION_CHOICES = ("face", "frame")

__all__ = ["BACKEND_CHOICES", "BLEND_CHOICES", "DEFAULT_BLEND", "PRECISION_CHOICES",
           "REGION_CHOICES"]
