"""What an engine is: tiers, the model's I/O contract, the face path and the bundle format.

Imports no other fuse_trt subpackage and never imports torch at package import.
"""
from fuse_trt.engine.spec import ModelSpec, TensorSpec
from fuse_trt.engine.tiers import DEFAULT_TIERS, TierPlan, TierSpec, TierTable

__all__ = ["DEFAULT_TIERS", "ModelSpec", "TensorSpec", "TierPlan", "TierSpec", "TierTable"]
