"""What a TensorRT INT8 build gets from calibration, by the mode the compat module decides.

``implicit`` (8.6, weakly typed 10.x): a picklable entropy-calibrator factory over the
calibration set at the calibration profile's opt shape, with its cache in the bundle.
``explicit`` (11.x, strongly typed 10.x): the symmetric Q/DQ ONNX, built and gated into the
bundle. The returned keywords go straight into ``TensorRTBuildConfig``.
"""
from __future__ import annotations

import logging

from fuse_trt.calibration.cache import cached_samples
from fuse_trt.calibration.options import Int8Options
from fuse_trt.calibration.ort_int8 import progress_bar
from fuse_trt.calibration.qdq import QDQ_KIND, build_tensorrt_qdq
from fuse_trt.calibration.tensorrt_calibrator import (DeviceAlloc, EntropyCalibratorFactory,
                                                      calibration_cache_path, profile_batches,
                                                      pycuda_device_alloc)
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind, Precision
from fuse_trt.engine.tiers import TierSpec
from fuse_trt.engine.errors import FuseTrtError

log = logging.getLogger("fuse_trt")


def calibrator_factory(bundle: Bundle, options: Int8Options, tensorrt_version: str,
                       tier: TierSpec | None = None,
                       device_alloc: DeviceAlloc = pycuda_device_alloc) -> EntropyCalibratorFactory:
    """Batches at ``tier``'s opt shape (default: the first tier, the calibration profile)."""
    tier = tier or bundle.tiers.tiers[0]
    samples = cached_samples(options.cache_dir, bundle.spec, bundle.tiers, options.calibration,
                             "calibration", progress_bar("calibration set"))
    batches = profile_batches(samples, bundle.spec.input_names, tier.name, tier.opt_shape,
                              tier.opt_batch)
    if not batches:
        raise FuseTrtError(f"no calibration sample has tier {tier.name}'s opt shape "
                           f"{tier.opt_shape}; include aspect 1.0 in the calibration shapes")
    onnx_sha = bundle.manifest.find(ArtifactKind.ONNX, Precision.FP32)[-1].sha256
    cache = calibration_cache_path(bundle.directory, onnx_sha, tensorrt_version)
    log.info("INT8 calibration: %d batches at %s for tier %s", len(batches), tier.opt_shape,
             tier.name)
    return EntropyCalibratorFactory(tuple(batches), cache, device_alloc)


def tensorrt_int8_inputs(bundle: Bundle, compat, options: Int8Options,
                         strongly_typed: bool = False, tier: TierSpec | None = None,
                         device_alloc: DeviceAlloc = pycuda_device_alloc) -> tuple[Bundle, dict]:
    """(bundle, TensorRTBuildConfig keywords) for an INT8 build on ``compat``'s TensorRT.

    ``tier``: the calibration profile's tier (default the first; pass the first GPU tier when
    the first runs on DLA).
    """
    if compat.int8_mode(strongly_typed) == "implicit":
        factory = calibrator_factory(bundle, options, compat.version, tier, device_alloc)
        return bundle, {"int8_calibrator_factory": factory}
    bundle = build_tensorrt_qdq(bundle, options)
    return bundle, {"int8_qdq_onnx": bundle.artifact_path(QDQ_KIND, "int8", "tensorrt")}
