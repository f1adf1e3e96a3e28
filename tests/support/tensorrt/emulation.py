"""TensorRT behaviour behind a strict stand-in: the build side (builder, parser, config).

A "plan" is a JSON header (profiles, I/O, precision, flags) followed by the ONNX bytes;
``emulated_engine`` runs it with ONNX Runtime. Version-dependent behaviour follows TensorRT:
8.6 needs EXPLICIT_BATCH and reads ONNX up to opset 17; 11.x is always strongly typed;
strongly typed networks refuse precision flags; DLA needs static profiles and GPU_FALLBACK.
Failures log through the caller's ILogger and return None, as TensorRT does.
"""
from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import onnx

from tests.support.tensorrt.fake_cuda import FakeGpu
from tests.support.tensorrt.qdq_rules import qdq_problems
from tests.support.tensorrt.strict import make_standin

PLAN_MAGIC = b"FAKE-TRT-PLAN\n"
CACHE_MAGIC = b"FAKE-TRT-CACHE\n"
ONNX_TYPES = {onnx.TensorProto.FLOAT: "FLOAT", onnx.TensorProto.FLOAT16: "HALF",
              onnx.TensorProto.INT8: "INT8", onnx.TensorProto.INT32: "INT32",
              onnx.TensorProto.INT64: "INT64", onnx.TensorProto.BOOL: "BOOL"}
NUMPY_TYPES = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32,
               "INT64": np.int64, "BOOL": np.bool_, "UINT8": np.uint8}
PRECISION_FLAGS = ("FP16", "INT8", "BF16", "FP8", "INT4", "FP4")
_SETTINGS = itertools.count()
# The stand-in classes do not inherit from each other; TensorRT's calibrators all derive
# from IInt8Calibrator.
CALIBRATOR_CLASSES = ("IInt8Calibrator", "IInt8EntropyCalibrator", "IInt8EntropyCalibrator2",
                      "IInt8LegacyCalibrator", "IInt8MinMaxCalibrator")


def call(obj, name, *args):
    """Call a method of a caller-made object (logger, calibrator) without recording it."""
    return object.__getattribute__(obj, name)(*args)


def read_plan(data: bytes) -> tuple[dict, bytes] | None:
    if not bytes(data).startswith(PLAN_MAGIC):
        return None
    header, _, model = bytes(data)[len(PLAN_MAGIC):].partition(b"\n")
    return json.loads(header), model


class Emulation:
    """One TensorRT version on one fake GPU: the strict module plus shared state."""

    def __init__(self, version: str, gpu: FakeGpu):
        from tests.support.tensorrt.emulated_engine import RUNTIME_IMPLS

        self.version, self.major, self.gpu = version, int(version.split(".")[0]), gpu
        self.module = make_standin(version, {**BUILD_IMPLS, **RUNTIME_IMPLS},
                                   {"nptype": self.nptype}, shared={"emu": self})
        self.classes = object.__getattribute__(self.module, "_fake_classes")
        self.calls: Counter = Counter()  # per-call context methods, for rebind checks
        self.fail_executions = 0  # how many execute_async_v3 calls to refuse next

    def new(self, class_name: str, *args):
        cls = self.classes[class_name]
        if issubclass(cls, (tuple, bytes)):
            return cls(*args)
        obj = cls.__new__(cls)
        obj._setup(*args)
        return obj

    def enum(self, enum_name: str, member: str):
        return type.__getattribute__(self.classes[enum_name], member)

    def enum_members(self, enum_name: str) -> dict[str, object]:
        enum = self.classes[enum_name]
        return {name: type.__getattribute__(enum, name)
                for name, kind in enum.__dict__["_fake_members"].items() if kind == "attr"}

    def log(self, logger, severity: str, message: str) -> None:
        call(logger, "log", type.__getattribute__(self.classes["ILogger"], severity), message)

    def nptype(self, data_type):
        return NUMPY_TYPES[data_type._name]


def settable(default=None, accepts: str = "object", none_ok: bool = False) -> property:
    """A dumped property the caller may set, kept per instance. The setter checks the type
    as pybind11 does (``accepts``: int, bool or a stand-in class name), raising TypeError."""
    key = f"_setting_{next(_SETTINGS)}"

    def setter(self, value):
        if not (value is None and none_ok) and not _setter_accepts(self._emu, accepts, value):
            raise TypeError(f"tensorrt {self._emu.version}: incompatible property value "
                            f"{value!r}; expected {accepts}")
        self.__dict__[key] = value

    return property(lambda self: self.__dict__.get(key, default), setter)


def write_only(setter) -> property:
    """pybind11's ``def_property(name, nullptr, setter)``: reading raises AttributeError."""
    def unreadable(self):
        raise AttributeError("unreadable attribute")

    return property(unreadable, setter)


def _setter_accepts(emu, accepts: str, value) -> bool:
    if accepts == "object":
        return True
    if accepts == "int":
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
            and not hasattr(type(value), "_fake_members")
    if accepts == "bool":
        return isinstance(value, (bool, np.bool_))
    names = CALIBRATOR_CLASSES if accepts == "IInt8Calibrator" else (accepts,)
    return isinstance(value, tuple(emu.classes[name] for name in names if name in emu.classes))


class HostMemoryImpl(bytes):
    nbytes = property(lambda self: len(self))


class DimsImpl(tuple):
    pass


class TensorImpl:
    def _setup(self, name: str, shape: tuple, dtype: str):
        self._tensor = (name, tuple(shape), dtype)

    name = property(lambda self: self._tensor[0])
    shape = property(lambda self: self._emu.new("Dims", self._tensor[1]))

    def _set_dtype(self, data_type):
        if data_type._name not in NUMPY_TYPES:
            raise TypeError(f"ITensor.dtype: {data_type!r} is not a DataType")
        self._tensor = (*self._tensor[:2], data_type._name)

    dtype = property(lambda self: self._emu.enum("DataType", self._tensor[2]), _set_dtype)


class DataTypeImpl:
    itemsize = property(lambda self: np.dtype(NUMPY_TYPES[self._name]).itemsize)


class BuilderImpl:
    def __init__(self, logger):
        self._logger = logger

    def create_network(self, flags=0):
        members = self._emu.enum_members("NetworkDefinitionCreationFlag")
        known = {name: 1 << member._value for name, member in members.items()}
        names = {name for name, bit in known.items() if flags & bit}
        if flags & ~sum(known.values()):
            self._emu.log(self._logger, "ERROR", f"create_network: unknown flag bits {flags:#x}")
            return None
        return self._emu.new("INetworkDefinition", frozenset(names))

    def create_builder_config(self):
        return self._emu.new("IBuilderConfig")

    def create_optimization_profile(self):
        return self._emu.new("IOptimizationProfile")

    def build_serialized_network(self, network, config):
        from tests.support.tensorrt.emulated_build import build_plan_bytes

        return build_plan_bytes(self, network, config)


class NetworkImpl:
    def _setup(self, flags: frozenset):
        self._flags = flags
        self._inputs, self._outputs, self._model = [], [], None

    @property
    def _strongly_typed(self) -> bool:
        return self._emu.major >= 11 or "STRONGLY_TYPED" in self._flags

    num_inputs = property(lambda self: len(self._inputs))
    num_outputs = property(lambda self: len(self._outputs))

    def get_input(self, index):
        return self._inputs[index]

    def get_output(self, index):
        return self._outputs[index]


class ParserErrorImpl:
    def _setup(self, code: str, desc: str, node: int, node_name: str, operator: str):
        self._error = (code, desc, node, node_name, operator)

    def code(self):
        return self._emu.enum("ErrorCode", self._error[0])

    def desc(self):
        return self._error[1]

    def node(self):
        return self._error[2]

    def node_name(self):
        return self._error[3]

    def node_operator(self):
        return self._error[4]


class OnnxParserImpl:
    def __init__(self, network, logger):
        self._network, self._logger, self._errors = network, logger, []

    num_errors = property(lambda self: len(self._errors))

    def get_error(self, index):
        return self._errors[index]

    def clear_errors(self):
        self._errors = []

    def parse_from_file(self, model):
        onnx_model = onnx.load(model)
        self._errors = list(self._find_errors(onnx_model))
        if self._errors:
            return False
        self._network._model = onnx_model.SerializeToString()
        self._network._inputs = [self._tensor(value) for value in self._graph_inputs(onnx_model)]
        self._network._outputs = [self._tensor(value) for value in onnx_model.graph.output]
        return True

    def _find_errors(self, model):
        emu = self._emu
        if emu.major < 10 and "EXPLICIT_BATCH" not in self._network._flags:
            yield emu.new("ParserError", "INVALID_GRAPH",
                          "the ONNX parser needs an explicit-batch network", -1, "", "")
        opset = max(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
        if emu.major < 10 and opset > 17:
            yield emu.new("ParserError", "UNSUPPORTED_GRAPH",
                          f"opset {opset} is newer than this parser's 17", -1, "", "")
        for index, name, problem in qdq_problems(model):
            yield emu.new("ParserError", "INVALID_NODE", f"Q/DQ: {problem}", index, name,
                          model.graph.node[index].op_type)
        for index, node in enumerate(model.graph.node):
            if not onnx.defs.has(node.op_type, node.domain):
                yield emu.new("ParserError", "UNSUPPORTED_NODE",
                              f"no importer for operator {node.op_type}", index, node.name,
                              node.op_type)

    @staticmethod
    def _graph_inputs(model):
        initializers = {tensor.name for tensor in model.graph.initializer}
        return [value for value in model.graph.input if value.name not in initializers]

    def _tensor(self, value):
        dims = value.type.tensor_type.shape.dim
        shape = tuple(dim.dim_value if dim.HasField("dim_value") else -1 for dim in dims)
        return self._emu.new("ITensor", value.name, shape,
                             ONNX_TYPES[value.type.tensor_type.elem_type])


class ProfileImpl:
    def _setup(self):
        self._shapes = {}

    def set_shape(self, input, min, opt, max):  # noqa: A002 - the dumped parameter names
        """Raises RuntimeError on inconsistent shapes, as the bindings' assert does."""
        shapes = tuple(tuple(int(v) for v in dims) for dims in (min, opt, max))
        for label, dims, lower in (("min", shapes[0], None), ("opt", shapes[1], shapes[0]),
                                   ("max", shapes[2], shapes[1])):
            bad_rank = lower is not None and len(dims) != len(lower)
            if bad_rank or any(v < 0 for v in dims) or (
                    lower is not None and any(a < b for a, b in zip(dims, lower))):
                raise RuntimeError(f"Shape provided for {label} is inconsistent with other "
                                   f"shapes.")
        self._shapes[input] = shapes

    def get_shape(self, input):  # noqa: A002
        return [self._emu.new("Dims", dims) for dims in self._shapes.get(input, ())]


class TimingCacheImpl:
    def _setup(self, version: str, builds: int):
        self._version, self._builds = version, builds

    def serialize(self):
        body = json.dumps({"version": self._version, "builds": self._builds}).encode()
        return self._emu.new("IHostMemory", CACHE_MAGIC + body)


class BuilderConfigImpl:
    def _setup(self):
        self._flags, self._pools, self._profiles = {"TF32"}, {}, []  # TF32 is on by default
        self._timing_cache, self._calibration_profile = None, None

    default_device_type = settable(None, "DeviceType")
    DLA_core = settable(-1, "int")
    hardware_compatibility_level = settable(None, "HardwareCompatibilityLevel")
    int8_calibrator = settable(None, "IInt8Calibrator", none_ok=True)
    progress_monitor = settable(None, "IProgressMonitor", none_ok=True)
    num_optimization_profiles = property(lambda self: len(self._profiles))

    def set_flag(self, flag):
        self._flags.add(flag._name)

    def clear_flag(self, flag):
        self._flags.discard(flag._name)

    def get_flag(self, flag):
        return flag._name in self._flags

    def set_memory_pool_limit(self, pool, pool_size):
        self._pools[pool._name] = int(pool_size)

    def get_memory_pool_limit(self, pool):
        return self._pools.get(pool._name, 0)

    def add_optimization_profile(self, profile):
        for low, opt, high in profile._shapes.values():
            ordered = all(a <= b <= c for a, b, c in zip(low, opt, high))
            if not (len(low) == len(opt) == len(high)) or not ordered:
                return -1
        self._profiles.append(dict(profile._shapes))
        return len(self._profiles) - 1

    def set_calibration_profile(self, profile):
        self._calibration_profile = dict(profile._shapes)
        return True

    def create_timing_cache(self, serialized_timing_cache):
        data = bytes(serialized_timing_cache)
        if not data:
            return self._emu.new("ITimingCache", self._emu.version, 0)
        if not data.startswith(CACHE_MAGIC):
            return None
        body = json.loads(data[len(CACHE_MAGIC):])
        return self._emu.new("ITimingCache", body["version"], body["builds"])

    def set_timing_cache(self, cache, ignore_mismatch):
        if cache._version != self._emu.version and not ignore_mismatch:
            return False
        self._timing_cache = cache
        return True

    def get_timing_cache(self):
        return self._timing_cache


BUILD_IMPLS = {
    "Builder": BuilderImpl, "INetworkDefinition": NetworkImpl, "ITensor": TensorImpl,
    "OnnxParser": OnnxParserImpl, "ParserError": ParserErrorImpl,
    "IOptimizationProfile": ProfileImpl, "IBuilderConfig": BuilderConfigImpl,
    "ITimingCache": TimingCacheImpl, "IHostMemory": HostMemoryImpl, "Dims": DimsImpl,
    "DataType": DataTypeImpl,
}
