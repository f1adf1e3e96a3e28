"""Build TensorRT plans: ONNX -> network -> builder config -> serialized engine -> plan + sidecar.

The steps are lazy loaders in the Polygraphy style: a constructor stores its arguments, the
call does the work, and they compose (``SerializedEngineFromNetwork(NetworkFromOnnxPath(...),
ConfigFor(...))``), so a test can replace one step. Every TensorRT return value is checked;
a missing one raises :class:`EngineBuildError` naming the stage. Version differences come
from :class:`TensorRTCompat`; tensorrt and pycuda are imported only when a build runs.
"""
from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import onnx

from fuse_trt.build_engine.build_progress import BuildProgress
from fuse_trt.build_engine.fp16_onnx import fp16_onnx
from fuse_trt.build_engine.tensorrt_config import (PlanJob, TensorRTBuildConfig, plan_jobs,
                                                   profile_table, timing_cache_name)
from fuse_trt.engine.files import sha256_file, write_bytes_atomic
from fuse_trt.engine.progress import phase
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierTable
from fuse_trt.engine.errors import EngineBuildError
from fuse_trt.runtime.cuda_memory import GpuInfo, PrimaryContext, load_pycuda, query_gpu
from fuse_trt.runtime.plan_sidecar import PlanSidecar, plan_file_name, sidecar_path
from fuse_trt.runtime.trt_compat import PrecisionRecipe, TensorRTCompat, load_tensorrt
from fuse_trt.runtime.trt_logger import make_trt_logger
from fuse_trt.runtime.trt_progress import make_progress_monitor

log = logging.getLogger("fuse_trt")


def _checked(value, stage: str):
    if value is None:
        raise EngineBuildError(f"TensorRT returned nothing when asked to {stage}")
    return value


@dataclass
class ParsedNetwork:
    builder: object
    network: object
    parser: object  # owns weights the network points at: alive until the build ends
    logger: object


@dataclass
class BuilderConfig:
    config: object
    keepalive: tuple = ()  # profiles and calibrator TensorRT points at during the build
    tf32: bool | None = None
    calibrator: object = None

    def raise_calibration_failure(self) -> None:
        """TensorRT swallows get_batch exceptions as "end of data"; ours records them."""
        failure = getattr(self.calibrator, "failure", None) if self.calibrator else None
        if failure is not None:
            raise EngineBuildError(f"INT8 calibration failed: {failure}; no calibration cache "
                                   f"was written") from failure


class NetworkFromOnnxPath:
    """Parse an ONNX file into a new network; every parser error is reported with its node."""

    def __init__(self, compat: TensorRTCompat, onnx_path: Path, strongly_typed: bool = False,
                 io_dtype: str = "float32"):
        self.compat, self.onnx_path, self.strongly_typed = compat, Path(onnx_path), strongly_typed
        self.io_dtype = io_dtype

    def __call__(self) -> ParsedNetwork:
        trt = self.compat.trt
        logger = make_trt_logger(trt)
        builder = _checked(trt.Builder(logger), "create a builder")
        flags = self.compat.network_flags(self.strongly_typed)
        network = _checked(builder.create_network(flags), "create a network")
        parser = _checked(trt.OnnxParser(network, logger), "create an ONNX parser")
        if not parser.parse_from_file(str(self.onnx_path)):
            errors = [self.compat.describe_parser_error(parser.get_error(index))
                      for index in range(parser.num_errors)]
            raise EngineBuildError(f"TensorRT {self.compat.version} could not parse "
                                   f"{self.onnx_path}: " + "; ".join(errors))
        self.compat.set_network_io_dtype(network, self.io_dtype, self.strongly_typed)
        return ParsedNetwork(builder, network, parser, logger)


class ConfigFor:
    """The builder config for one plan: precision, workspace, compat flags, DLA, profiles."""

    def __init__(self, compat: TensorRTCompat, job: PlanJob, recipe: PrecisionRecipe,
                 profiles: dict[str, dict]):
        self.compat, self.job, self.recipe, self.profiles = compat, job, recipe, profiles

    def __call__(self, parsed: ParsedNetwork) -> BuilderConfig:
        compat, build = self.compat, self.job.config
        config = _checked(parsed.builder.create_builder_config(), "create a builder config")
        compat.set_workspace(config, build.workspace_bytes)
        compat.set_builder_flags(config, self.recipe.builder_flags)
        tf32 = compat.set_tf32(config, allowed=build.precision != "fp32")
        if build.hardware_compat:
            compat.set_hardware_compatible(config)
        if build.version_compatible:
            compat.set_version_compatible(config)
        if self.job.on_dla:
            compat.set_dla(config, build.dla_core)
        keepalive = self._add_profiles(parsed, config)
        monitor = compat.attach_progress_monitor(config, make_progress_monitor)
        if monitor is not None:
            keepalive.append(monitor)
        calibrator = None
        if self.recipe.int8_mode == "implicit":
            calibrator = self._attach_calibrator(config, keepalive[0])
        return BuilderConfig(config, tuple(keepalive), tf32, calibrator)

    def _add_profiles(self, parsed: ParsedNetwork, config) -> list:
        network = parsed.network
        names = [network.get_input(index).name for index in range(network.num_inputs)]
        if sorted(names) != sorted(self.job.spec.input_names):
            raise EngineBuildError(f"the ONNX inputs {names} are not the model's "
                                   f"{self.job.spec.input_names}")
        profiles = []
        for tier_name, entry in self.profiles.items():
            profile = _checked(parsed.builder.create_optimization_profile(),
                               f"create the optimization profile of tier {tier_name}")
            for name, bounds in entry["inputs"].items():
                self._set_shape(profile, tier_name, name, bounds)
            index = config.add_optimization_profile(profile)
            if index != entry["index"]:
                raise EngineBuildError(f"adding the profile of tier {tier_name} gave index "
                                       f"{index}, expected {entry['index']} (-1: invalid profile)")
            profiles.append(profile)
        return profiles

    @staticmethod
    def _set_shape(profile, tier_name: str, name: str, bounds: dict) -> None:
        shapes = [tuple(bounds[key]) for key in ("min", "opt", "max")]
        try:
            profile.set_shape(name, *shapes)
        except RuntimeError as error:  # the bindings raise on inconsistent shapes
            raise EngineBuildError(f"invalid optimization profile for tier {tier_name}: input "
                                   f"{name} min/opt/max {shapes} ({error})") from error

    def _attach_calibrator(self, config, profile):
        calibrator = _checked(self.job.config.int8_calibrator_factory(self.compat.trt),
                              "create the INT8 calibrator")
        if not self.compat.attach_calibrator(config, calibrator, profile):
            raise EngineBuildError("TensorRT refused the INT8 calibration profile")
        return calibrator


class TimingCacheFile:
    """A timing cache loaded into the config before the build and saved after it."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def attach(self, config) -> None:
        data = self.path.read_bytes() if self.path.is_file() else b""
        cache = _checked(config.create_timing_cache(data), "create a timing cache")
        if config.set_timing_cache(cache, False):
            return
        log.warning("timing cache %s does not match this TensorRT/GPU; starting afresh", self.path)
        fresh = _checked(config.create_timing_cache(b""), "create an empty timing cache")
        if not config.set_timing_cache(fresh, False):
            raise EngineBuildError("TensorRT refused an empty timing cache")

    def save(self, config) -> None:
        cache = _checked(config.get_timing_cache(), "return the timing cache")
        write_bytes_atomic(self.path, _checked(cache.serialize(), "serialize the timing cache"))


class SerializedEngineFromNetwork:
    """Build the serialized engine (plan bytes) from a network and a config step."""

    def __init__(self, network: Callable[[], ParsedNetwork],
                 config: Callable[[ParsedNetwork], BuilderConfig],
                 timing_cache: TimingCacheFile | None = None,
                 progress: BuildProgress | None = None):
        self.network, self.config, self.timing_cache = network, config, timing_cache
        self.progress = progress
        self.tf32: bool | None = None  # as the last build saw it

    def __call__(self) -> bytes:
        parsed = self.network()
        built = _checked(self.config(parsed), "configure the build")
        self.tf32 = built.tf32
        if self.timing_cache is not None:
            self.timing_cache.attach(built.config)
        if self.progress is not None:
            self.progress.enter("building the engine")
        serialized = parsed.builder.build_serialized_network(parsed.network, built.config)
        built.raise_calibration_failure()
        if serialized is None:
            raise EngineBuildError("build_serialized_network returned nothing: TensorRT could "
                                   "not build the engine (its errors are logged above)")
        if self.timing_cache is not None:
            self.timing_cache.save(built.config)
        return bytes(memoryview(serialized))


# -- plans ------------------------------------------------------------------------------
def build_tensorrt_plans(bundle_dir: Path, onnx_path: Path, spec: ModelSpec, tiers: TierTable,
                         config: TensorRTBuildConfig) -> list[Path]:
    """Build every plan the config asks for into ``bundle_dir``; returns the plan paths.

    Several plans are built one per subprocess: repeated builds in one process leak in some
    10.x releases. A calibrator factory must then be picklable (a module-level function).
    """
    jobs = plan_jobs(bundle_dir, onnx_path, spec, tiers, config)
    build = build_plan if len(jobs) == 1 else build_plan_in_subprocess
    plans = []
    for job in jobs:
        where = "DLA" if job.on_dla else "GPU"
        with phase(f"TensorRT {config.precision} {where} plan for tiers "
                   f"{', '.join(tier.name for tier in job.tiers)}"):
            plans.append(build(job))
    return plans


def build_plan_in_subprocess(job: PlanJob,
                             build: Callable[[PlanJob], Path] | None = None) -> Path:
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        try:
            return pool.submit(build or build_plan, job).result()
        except BrokenProcessPool as error:
            raise EngineBuildError(f"the process building tiers "
                                   f"{[tier.name for tier in job.tiers]} died: {error}") from error


def build_plan(job: PlanJob) -> Path:
    """Build one plan with its sidecar into ``job.bundle_dir``."""
    compat, cuda = load_tensorrt(), load_pycuda()
    gpu = query_gpu(cuda, job.config.device)
    recipe = compat.precision_recipe(job.config.precision, job.config.strongly_typed)
    onnx_path = onnx_for(job, compat, recipe)
    profiles = profile_table(job.spec, job.tiers, job.config.max_batch, static=job.on_dla)
    name = plan_file_name(job.spec.name, compat.version, gpu, job.config.precision, job.dla_core)
    progress = None
    if job.config.progress is not None:
        progress = BuildProgress(job.config.progress, name)
    io_dtype = compat.io_dtype(job.config.precision)
    engine = SerializedEngineFromNetwork(
        NetworkFromOnnxPath(compat, onnx_path, recipe.strongly_typed, io_dtype),
        ConfigFor(compat, job, recipe, profiles),
        TimingCacheFile(job.bundle_dir / timing_cache_name(compat.version, gpu.slug)), progress)
    cuda_context = PrimaryContext(cuda, job.config.device)
    try:
        with cuda_context.pushed(), (progress.heartbeat() if progress else nullcontext()):
            plan = engine()
            device_memory = built_device_memory(compat, plan, profiles, job)
    finally:
        cuda_context.release()
    plan_path = write_bytes_atomic(job.bundle_dir / name, plan)
    io_dtypes = {name: io_dtype for name in (*job.spec.input_names, *job.spec.output_names)}
    sidecar = replace(_sidecar(job, compat, gpu, recipe, onnx_path, profiles, engine.tf32),
                      device_memory=device_memory, io_dtypes=io_dtypes)
    sidecar.write(sidecar_path(plan_path))
    log.info("built %s (%d bytes)", plan_path, len(plan))
    return plan_path


def built_device_memory(compat: TensorRTCompat, plan: bytes, profiles: dict[str, dict],
                        job: PlanJob) -> dict:
    """TensorRT's own scratch and weights figures for a plan just built (for the sidecar)."""
    logger = make_trt_logger(compat.trt)
    runtime = _checked(compat.trt.Runtime(logger), "create a runtime")
    compat.prepare_runtime(runtime, job.dla_core, job.config.version_compatible)
    engine = _checked(runtime.deserialize_cuda_engine(plan), "deserialize the plan just built")
    report = compat.scratch_report(engine, {name: entry["index"]
                                            for name, entry in profiles.items()})
    report["weights_bytes"] = compat.engine_weights_bytes(engine, len(plan))
    del engine, runtime  # the engine before its runtime, as TensorRT requires
    return report


def onnx_for(job: PlanJob, compat: TensorRTCompat, recipe: PrecisionRecipe) -> Path:
    """The ONNX this version parses for this precision (see PrecisionRecipe.onnx_variant)."""
    if recipe.int8_mode == "implicit" and job.config.int8_calibrator_factory is None:
        raise EngineBuildError(f"INT8 on TensorRT {compat.version} calibrates implicitly: "
                               f"give an int8_calibrator_factory")
    if recipe.onnx_variant == "qdq" and job.config.int8_qdq_onnx is None:
        raise EngineBuildError(f"INT8 on TensorRT {compat.version} (strongly typed) is built "
                               f"from a Q/DQ ONNX: give int8_qdq_onnx")
    path = {"fp32": job.onnx_path, "qdq": job.config.int8_qdq_onnx,
            "fp16": job.bundle_dir / f"{job.onnx_path.stem}.fp16-io.onnx"}[recipe.onnx_variant]
    if recipe.onnx_variant == "fp16" and not path.is_file():
        fp16_onnx(job.onnx_path, path, keep_io_types=False)  # FP16 in, FP16 out
    _check_opset(Path(path), compat)
    return Path(path)


def _check_opset(path: Path, compat: TensorRTCompat) -> None:
    limit = compat.max_onnx_opset()
    if limit is None:
        return
    model = onnx.load(str(path), load_external_data=False)
    opset = max((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")),
                default=0)
    if opset > limit:
        raise EngineBuildError(f"{path.name} is ONNX opset {opset}; TensorRT {compat.version} "
                               f"reads up to opset {limit}: export with opset {limit}")


def _sidecar(job: PlanJob, compat: TensorRTCompat, gpu: GpuInfo, recipe: PrecisionRecipe,
             onnx_path: Path, profiles: dict[str, dict], tf32: bool | None) -> PlanSidecar:
    return PlanSidecar(
        model=job.spec.name, precision=job.config.precision, tensorrt_version=compat.version,
        gpu_name=gpu.name, compute_capability=gpu.compute_capability,
        cuda_version=gpu.cuda_version, driver_version=gpu.driver_version,
        onnx_file=onnx_path.name, onnx_sha256=sha256_file(onnx_path), profiles=profiles,
        strongly_typed=recipe.strongly_typed, hardware_compat=job.config.hardware_compat,
        version_compatible=job.config.version_compatible, dla_core=job.dla_core,
        source_onnx_sha256=sha256_file(job.onnx_path), tf32=tf32)
