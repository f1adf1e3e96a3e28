"""`fuse-trt build`: one pipeline of steps, export -> FP16 ONNX -> INT8 -> TensorRT plans.

The steps are lazy callables in the Polygraphy "X from Y" style: the constructor stores what
a step needs, the call does the work, and each takes the bundle the previous one returned, so
a test can replace one step. :func:`build_pipeline` picks the steps a backend and precision
need; the FP16 ONNX is made by one step under one name, and TensorRT asks that same step for
it when its version builds FP16 from an FP16 ONNX. INT8 calibration reaches the pipeline as an
injected step (``BuildConfig.int8``), so this module never imports ``calibration``. An
existing bundle built from the same model and tiers is extended instead of rebuilt. The
batch range travels in the tier table only (``BuildConfig.max_batch`` makes it).
"""
from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from fuse_trt.build_engine.bundle_builder import (BuildConfig, export_fp32, import_onnx,
                                                  memory_request, requested_tiers,
                                                  source_bundle)
from fuse_trt.build_engine.int8_step import Int8Step
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ANY, ArtifactKind, BackendName, Precision
from fuse_trt.engine.errors import FuseTrtError
from fuse_trt.engine.files import sha256_file
from fuse_trt.engine.tiers import TierTable

log = logging.getLogger("fuse_trt")

FP16_ONNX_NAME = "model.fp16.onnx"
FP16_IO_ONNX_NAME = "model.fp16-io.onnx"
BundleStep = Callable[[Bundle], Bundle]


class BundleFromModel:
    """The FP32 bundle: the one already at ``out_dir`` if it was made from the same weights,
    tiers and opset, else a fresh export (or import of a user's ONNX) swapped into place."""

    def __init__(self, out_dir: Path, config: BuildConfig):
        self.out_dir, self.config = Path(out_dir), config

    def __call__(self) -> Bundle:
        return self._reusable() or self._export_into_place()

    def _reusable(self) -> Bundle | None:
        config = self.config
        if not (self.out_dir / "manifest.json").is_file() or config.unet_config is not None \
                or config.onnx is not None:
            return None
        bundle = Bundle.load(self.out_dir)
        weights = bundle.manifest.find(ArtifactKind.WEIGHTS, Precision.FP32)
        same_model = bool(weights) and weights[-1].sha256 == _source_weights_sha256(config)
        has_onnx = bool(bundle.manifest.find(ArtifactKind.ONNX, Precision.FP32))
        if not same_model or not has_onnx or bundle.spec.opset != config.opset \
                or not _same_tiers(bundle, config):
            return None
        log.info("extending the existing bundle %s", self.out_dir)
        return bundle

    def _export_into_place(self) -> Bundle:
        """Export into a sibling temp directory, then swap it in, so a failure loses nothing."""
        out_dir = self.out_dir
        _check_replaceable(out_dir, self.config)
        if not out_dir.parent.is_dir():
            raise FuseTrtError(f"{out_dir}: output directory {out_dir.parent} does not exist")
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
        try:
            if self.config.onnx is not None:
                import_onnx(staging, self.config)
            else:
                export_fp32(staging, self.config)
            if out_dir.exists():
                shutil.rmtree(out_dir)
            staging.rename(out_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return Bundle.load(out_dir)


def _same_tiers(bundle: Bundle, config: BuildConfig) -> bool:
    """Same tier shapes and the same budget request (the batches follow from those)."""
    def unbatched(tiers: TierTable) -> TierTable:
        return replace(tiers, tiers=tuple(replace(t, max_batch=1) for t in tiers))

    requested = requested_tiers(config, bundle.spec.stride)
    recorded = (bundle.manifest.memory or {}).get("request")
    if recorded is None:  # made without a budget (imported tables, tests): the tiers as asked
        return bundle.tiers == requested
    return unbatched(bundle.tiers) == unbatched(requested) and recorded == memory_request(config)


def _source_weights_sha256(config: BuildConfig) -> str:
    if config.weights is not None:
        return sha256_file(config.weights)
    source = Bundle.load(source_bundle(config))
    return source.manifest.find(ArtifactKind.WEIGHTS, Precision.FP32)[-1].sha256


class Fp16OnnxInBundle:
    """An FP16 ONNX, made once and recorded once: with I/O kept FP32 (``model.fp16.onnx``,
    ONNX Runtime's fp16 model), or with FP16 I/O (``model.fp16-io.onnx``, the input of
    strongly typed FP16 TensorRT builds)."""

    def __init__(self, fp16_io: bool = False, range_samples=None):
        self.fp16_io, self.range_samples = fp16_io, range_samples
        self.file_name = FP16_IO_ONNX_NAME if fp16_io else FP16_ONNX_NAME
        self.kind = ArtifactKind.ONNX_FP16_IO if fp16_io else ArtifactKind.ONNX
        self.backend = BackendName.TENSORRT if fp16_io else ANY

    def __call__(self, bundle: Bundle) -> Bundle:
        """Written only if its range audit passes; the report is in the artifact's details."""
        from fuse_trt.build_engine.fp16_build import audited_fp16

        path = bundle.directory / self.file_name
        if bundle.manifest.find(self.kind, Precision.FP16) and path.is_file():
            return bundle
        details = audited_fp16(bundle, path, self.range_samples, keep_io_types=not self.fp16_io)
        return bundle.add_artifact(path, self.kind, Precision.FP16, self.backend, details)


class Int8OnnxInBundle:
    """The gated ONNX Runtime INT8 model, from the injected INT8 step."""

    def __init__(self, int8: Int8Step):
        self.int8 = int8

    def __call__(self, bundle: Bundle) -> Bundle:
        return self.int8.onnxruntime(bundle)


class TensorRTPlansInBundle:
    """Plans for the installed TensorRT and GPU, recorded with their sidecars and caches.

    The precision comes from ``BuildConfig`` alone; the FP16 ONNX, where this version needs
    it, comes from the ``fp16`` step, and INT8 inputs from the injected INT8 step."""

    def __init__(self, config: BuildConfig, fp16: BundleStep):
        self.config, self.fp16 = config, fp16

    def __call__(self, bundle: Bundle) -> Bundle:
        from fuse_trt.build_engine.tensorrt_builder import build_tensorrt_plans
        from fuse_trt.runtime.trt_compat import load_tensorrt

        compat = load_tensorrt()
        trt_config = self._tensorrt_config()
        recipe = compat.precision_recipe(trt_config.precision, trt_config.strongly_typed)
        if recipe.onnx_variant == "fp16":
            bundle = self.fp16(bundle)
            trt_config = replace(trt_config, fp16_onnx=bundle.directory / self.fp16.file_name)
        if trt_config.precision == Precision.INT8:
            # The calibration profile is the first profile of the first plan built: the GPU
            # plan's first tier, or the first DLA tier when every tier is on DLA.
            tier = next((tier for tier in bundle.tiers if tier.name not in trt_config.dla_tiers),
                        bundle.tiers.tiers[0])
            bundle, keywords = _int8_step(self.config).tensorrt_inputs(
                bundle, compat, trt_config.strongly_typed, tier)
            trt_config = replace(trt_config, **keywords)
        bundle, trt_config, audit = self._audited(bundle, compat, recipe, trt_config)
        plans = build_tensorrt_plans(bundle.directory,
                                     bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32),
                                     bundle.spec, bundle.tiers, trt_config)
        return self._record(bundle, plans, audit)

    def _audited(self, bundle: Bundle, compat, recipe, trt_config):
        """Weakly typed FP16/INT8: the layers the range audit pins to FP32; INT8 from a Q/DQ
        ONNX: its audit. (Strongly typed FP16 was audited by the fp16 step.)"""
        from fuse_trt.build_engine.fp16_build import audit_qdq, weakly_typed_fp32_layers

        samples = self.config.range_samples
        if "FP16" in recipe.builder_flags:  # weakly typed: TensorRT may pick FP16 anywhere
            layers, report = weakly_typed_fp32_layers(bundle, samples)
            trt_config = replace(trt_config, fp32_layers=tuple(layers.items()))
            return bundle, trt_config, {"range_audit": report.to_json()}
        if recipe.onnx_variant == "qdq" and trt_config.int8_qdq_onnx is not None:
            qdq = Path(trt_config.int8_qdq_onnx)
            report = audit_qdq(bundle, qdq, samples).to_json()
            [artifact] = [a for a in bundle.manifest.artifacts if a.file == qdq.name]
            bundle = bundle.add_artifact(qdq, artifact.kind, artifact.precision,
                                         artifact.backend,
                                         dict(artifact.details, range_audit=report))
            return bundle, trt_config, {"range_audit": report}
        return bundle, trt_config, {}

    def _tensorrt_config(self):
        from fuse_trt.build_engine.tensorrt_config import TensorRTBuildConfig

        return replace(self.config.tensorrt or TensorRTBuildConfig(),
                       precision=self.config.precision)

    def _record(self, bundle: Bundle, plans: list[Path], audit: dict) -> Bundle:
        from fuse_trt.runtime.plan_sidecar import PlanSidecar, sidecar_path

        precision = self.config.precision
        for plan in plans:
            sidecar = PlanSidecar.read(sidecar_path(plan))
            details = {"tensorrt_version": sidecar.tensorrt_version, "gpu_name": sidecar.gpu_name,
                       "compute_capability": list(sidecar.compute_capability),
                       "dla_core": sidecar.dla_core, "tiers": sorted(sidecar.profiles),
                       **audit}
            bundle = bundle.add_artifact(plan, ArtifactKind.PLAN, precision,
                                         BackendName.TENSORRT, details)
            bundle = bundle.add_artifact(sidecar_path(plan), ArtifactKind.PLAN_SIDECAR,
                                         precision, BackendName.TENSORRT)
        for cache in sorted(bundle.directory.glob("timing-cache.*.bin")):
            bundle = bundle.add_artifact(cache, ArtifactKind.TIMING_CACHE, ANY,
                                         BackendName.TENSORRT)
        return bundle


def _int8_step(config: BuildConfig) -> Int8Step:
    if config.int8 is None:
        raise FuseTrtError("an INT8 build needs calibration: pass BuildConfig.int8 "
                           "(fuse_trt.calibration.step.CalibratedInt8)")
    return config.int8


@dataclass(frozen=True)
class BuildPipeline:
    """``source`` makes the FP32 bundle; each step takes a bundle and returns it extended."""

    source: Callable[[], Bundle]
    steps: tuple[BundleStep, ...] = ()

    def __call__(self) -> Bundle:
        bundle = self.source()
        for step in self.steps:
            bundle = step(bundle)
        return bundle


def build_pipeline(out_dir: Path, config: BuildConfig) -> BuildPipeline:
    """The steps `fuse-trt build` runs for ``config.backend`` and ``config.precision``."""
    if config.backend not in (BackendName.ONNXRUNTIME, BackendName.TENSORRT):
        raise FuseTrtError(f"cannot build for backend {config.backend!r}; "
                           "choose onnxruntime or tensorrt")
    source = BundleFromModel(out_dir, config)
    if config.backend == BackendName.TENSORRT:
        fp16 = Fp16OnnxInBundle(fp16_io=True, range_samples=config.range_samples)
        return BuildPipeline(source, (TensorRTPlansInBundle(config, fp16),))
    if config.precision == Precision.FP16:
        return BuildPipeline(source, (Fp16OnnxInBundle(range_samples=config.range_samples),))
    if config.precision == Precision.INT8:
        return BuildPipeline(source, (Int8OnnxInBundle(_int8_step(config)),))
    return BuildPipeline(source)


def build_bundle(out_dir: Path, config: BuildConfig) -> Bundle:
    """Build (or extend) the bundle at ``out_dir`` for ``config.backend``/``config.precision``."""
    return build_pipeline(out_dir, config)()


def _check_replaceable(out_dir: Path, config: BuildConfig) -> None:
    """Refuse to replace anything but an empty directory, or a bundle with ``--force``."""
    if not out_dir.exists() or (out_dir.is_dir() and not any(out_dir.iterdir())):
        return
    if not (out_dir / "manifest.json").is_file():
        raise FuseTrtError(f"{out_dir}: exists and is not a fuse-trt bundle; refusing to "
                           "replace it (choose a new or empty directory)")
    if config.replace_existing:
        log.warning("replacing the bundle %s", out_dir)
        return
    old = Bundle.load(out_dir)
    files = ", ".join(artifact.file for artifact in old.manifest.artifacts)
    raise FuseTrtError(
        f"{out_dir}: holds a bundle for tiers {','.join(old.tiers.names())} ({files}) that a "
        f"build for tiers {','.join(map(str, config.tier_short_edges))}, opset {config.opset} "
        "and these weights cannot extend; pass --force to replace all of it, or choose another -o")
