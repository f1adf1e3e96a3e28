"""Every TensorRT version difference fuse-trt depends on, in one place.

:meth:`TensorRTCompat.from_module` parses ``trt.__version__`` once; the builder and the
runtime ask the resulting object instead of reading the version or probing attributes.
Branches are explicit on (major, minor). Supported: 8.6 (JetPack 6.0), 10.3 and later 10.x
(JetPack 6.1/6.2, desktops), 11.x (strongly typed only). Every attribute used here exists in
the API dump of the versions its branch serves (``tests/data/trt-api/``); the conformance
tests run this module against strict stand-ins generated from those dumps.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Literal

import numpy as np

from fuse_trt.engine.choices import Precision, values
from fuse_trt.engine.errors import BackendUnavailableError, EngineBuildError

OnnxVariant = Literal["fp32", "fp16", "qdq"]
Int8Mode = Literal["implicit", "explicit"]
Shape = tuple[int, ...]

INSTALL_HINT = ("install TensorRT and pycuda: pip install 'fuse-trt[gpu]' on a desktop; on a "
                "Jetson TensorRT comes with JetPack (python3-libnvinfer) and pycuda from pip")


def load_tensorrt() -> TensorRTCompat:
    """Import tensorrt (only here and only when asked) and describe its version."""
    try:
        import tensorrt
    except ImportError as error:
        raise BackendUnavailableError(f"TensorRT is not importable ({error}); {INSTALL_HINT}") \
            from error
    return TensorRTCompat.from_module(tensorrt)


def parse_tensorrt_version(text: str) -> tuple[int, ...]:
    """'10.16.1.11' -> (10, 16, 1, 11); '8.6.1.post1' -> (8, 6, 1)."""
    match = re.match(r"^(\d+(?:\.\d+)*)", text)
    if match is None:
        raise BackendUnavailableError(f"cannot read the TensorRT version {text!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def is_supported(major: int, minor: int) -> bool:
    return (major, minor) == (8, 6) or (major == 10 and minor >= 3) or major == 11


@dataclass(frozen=True)
class PrecisionRecipe:
    """How one precision is built on one TensorRT version."""

    onnx_variant: OnnxVariant  # which ONNX the parser reads
    builder_flags: tuple[str, ...]  # BuilderFlag member names to set
    strongly_typed: bool
    int8_mode: Int8Mode | None  # implicit: calibrator + INT8 flag; explicit: Q/DQ ONNX


@dataclass(frozen=True)
class IOTensor:
    name: str
    is_input: bool
    dtype: np.dtype


@dataclass(frozen=True)
class TensorRTCompat:
    """The running TensorRT module and the version facts the code branches on."""

    trt: ModuleType = field(repr=False, compare=False)
    version: str
    major: int
    minor: int

    @classmethod
    def from_module(cls, trt: ModuleType) -> TensorRTCompat:
        version = str(trt.__version__)
        major, minor = (parse_tensorrt_version(version) + (0,))[:2]
        if not is_supported(major, minor):
            raise BackendUnavailableError(
                f"TensorRT {version} is not supported; fuse-trt runs TensorRT 8.6, 10.3 or a "
                f"later 10.x, and 11.x")
        return cls(trt=trt, version=version, major=major, minor=minor)

    # -- precision and network creation ------------------------------------------------
    def resolve_strong_typing(self, requested: bool) -> bool:
        if self.major >= 11:
            return True  # 11.x builds strongly typed networks only
        if self.major == 8 and requested:
            raise EngineBuildError(f"strong typing needs TensorRT 10 or later; this is {self.version}")
        return requested

    def precision_recipe(self, precision: Precision | str,
                         strongly_typed: bool = False) -> PrecisionRecipe:
        if precision not in values(Precision):
            raise EngineBuildError(f"unknown precision {precision!r}; choose one of "
                                   f"{', '.join(values(Precision))}")
        typed = self.resolve_strong_typing(strongly_typed)
        if precision == Precision.FP32:
            return PrecisionRecipe("fp32", (), typed, None)
        if typed:  # types come from the ONNX tensors; precision flags do not exist or are refused
            if precision == Precision.FP16:
                return PrecisionRecipe("fp16", (), True, None)
            return PrecisionRecipe("qdq", (), True, "explicit")
        if precision == Precision.FP16:
            return PrecisionRecipe("fp32", ("FP16",), False, None)
        return PrecisionRecipe("fp32", ("INT8", "FP16"), False, "implicit")

    def int8_mode(self, strongly_typed: bool = False) -> Int8Mode:
        return self.precision_recipe(Precision.INT8, strongly_typed).int8_mode

    def network_flags(self, strongly_typed: bool) -> int:
        """Creation flags from the enum members by name: their integers differ by version."""
        creation_flag = self.trt.NetworkDefinitionCreationFlag
        flags = 0
        if self.major < 11:  # required on 8.6, accepted (deprecated) on 10.x, gone in 11
            flags |= 1 << int(creation_flag.EXPLICIT_BATCH)
        if strongly_typed and self.major >= 10:
            flags |= 1 << int(creation_flag.STRONGLY_TYPED)
        return flags

    def io_dtype(self, precision: str) -> str:
        """The dtype a plan of ``precision`` takes and returns: FP16 plans have FP16 I/O."""
        return "float16" if precision == "fp16" else "float32"

    def set_network_io_dtype(self, network, dtype: str, strongly_typed: bool) -> None:
        """Weakly typed builds (8.6, 10.x) set FP16 I/O on the network; strongly typed ones
        take it from the ONNX (its FP16-I/O variant), where setting a type is not allowed."""
        if dtype == "float32" or strongly_typed:
            return
        half = self.trt.DataType.HALF
        for index in range(network.num_inputs):
            network.get_input(index).dtype = half
        for index in range(network.num_outputs):
            network.get_output(index).dtype = half

    def max_onnx_opset(self) -> int | None:
        """The newest ONNX opset the parser reads, where it is known to be limited."""
        return 17 if self.major == 8 else None

    def describe_parser_error(self, error) -> str:
        where = f"node {error.node()}"
        if self.major >= 10:  # 8.6's ParserError has no node name or operator
            where += f" {error.node_name()!r} ({error.node_operator()})"
        return f"{where}: {error.desc()}"

    # -- builder configuration (the same calls in every supported version) ----------------
    def set_workspace(self, config, nbytes: int) -> None:
        config.set_memory_pool_limit(self.trt.MemoryPoolType.WORKSPACE, nbytes)

    def set_builder_flags(self, config, names: tuple[str, ...]) -> None:
        for name in names:
            config.set_flag(getattr(self.trt.BuilderFlag, name))

    def set_tf32(self, config, allowed: bool) -> bool:
        """TF32 is on by default; FP32 builds clear it (Ampere and Orin convolutions would
        otherwise round inputs to a 10-bit mantissa). Every supported version has the flag.
        Returns the flag as the build will see it."""
        flag = self.trt.BuilderFlag.TF32
        if allowed:
            config.set_flag(flag)
        else:
            config.clear_flag(flag)
        return bool(config.get_flag(flag))

    def set_hardware_compatible(self, config) -> None:
        config.hardware_compatibility_level = self.trt.HardwareCompatibilityLevel.AMPERE_PLUS

    def set_version_compatible(self, config) -> None:
        config.set_flag(self.trt.BuilderFlag.VERSION_COMPATIBLE)

    def set_dla(self, config, core: int) -> None:
        config.default_device_type = self.trt.DeviceType.DLA
        config.DLA_core = core
        config.set_flag(self.trt.BuilderFlag.GPU_FALLBACK)

    def attach_progress_monitor(self, config, make_monitor: Callable[[ModuleType], object]):
        """Report build phases through ``make_monitor(trt)`` (an IProgressMonitor) and return
        it, to be kept alive for the build; None on 8.6, which has no progress monitor."""
        if self.major < 10:
            return None
        monitor = make_monitor(self.trt)
        config.progress_monitor = monitor
        return monitor

    def attach_calibrator(self, config, calibrator, profile) -> bool:
        """Implicit INT8 calibration (8.6, weakly typed 10.x); it does not exist in 11.x."""
        if self.major >= 11:
            raise EngineBuildError(f"TensorRT {self.version} has no implicit INT8 calibration; "
                                   f"build INT8 from a Q/DQ ONNX")
        config.int8_calibrator = calibrator
        return config.set_calibration_profile(profile)

    # -- runtime -----------------------------------------------------------------------
    def prepare_runtime(self, runtime, dla_core: int | None, version_compatible: bool) -> None:
        if dla_core is not None:
            runtime.DLA_core = dla_core
        if version_compatible:  # such plans embed a lean runtime, which is host code
            runtime.engine_host_code_allowed = True

    def io_tensors(self, engine) -> tuple[IOTensor, ...]:
        """Inputs and outputs by name (the binding-index API is gone after 8.6)."""
        trt = self.trt
        tensors = []
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            tensors.append(IOTensor(name, is_input, dtype))
        return tuple(tensors)

    def profile_shapes(self, engine, name: str, profile_index: int) -> tuple[Shape, Shape, Shape]:
        """(min, opt, max) of an input in one optimization profile."""
        low, opt, high = engine.get_tensor_profile_shape(name, profile_index)
        return tuple(map(int, low)), tuple(map(int, opt)), tuple(map(int, high))

    def create_context_without_scratch(self, engine):
        """An execution context whose scratch memory the caller provides."""
        if self.major == 8:
            return engine.create_execution_context_without_device_memory()
        strategy = self.trt.ExecutionContextAllocationStrategy.USER_MANAGED
        return engine.create_execution_context(strategy)

    def scratch_bytes(self, engine, profile_index: int) -> int:
        if self.major == 8:
            return int(engine.device_memory_size)  # 8.6 reports the max over all profiles
        return int(engine.get_device_memory_size_for_profile_v2(profile_index))

    def scratch_report(self, engine, profile_indices: dict[str, int]) -> dict:
        """TensorRT's own scratch figures per tier profile and for the whole engine."""
        per_tier = {name: self.scratch_bytes(engine, index)
                    for name, index in profile_indices.items()}
        if self.major == 8:
            whole, source = int(engine.device_memory_size), "device_memory_size"
        else:
            whole = int(engine.device_memory_size_v2)
            source = "get_device_memory_size_for_profile_v2"
        return {"scratch_bytes_per_tier": per_tier, "scratch_bytes": whole, "source": source}

    def attach_scratch(self, context, address: int, nbytes: int) -> None:
        if self.major == 8:
            context.device_memory = address
        else:
            context.set_device_memory(address, nbytes)

    def engine_weights_bytes(self, engine, plan_nbytes: int) -> int:
        if self.major >= 11 or (self.major == 10 and self.minor >= 16):
            return int(engine.get_engine_stat(self.trt.EngineStat.TOTAL_WEIGHTS_SIZE))
        return plan_nbytes  # older versions cannot say; a plan is mostly its weights
