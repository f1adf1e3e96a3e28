"""The runtime side of the emulation: Runtime, ICudaEngine and IExecutionContext.

The engine runs its ONNX with ONNX Runtime, reading inputs from and writing outputs to the
fake device addresses bound on the context, when the stream synchronizes. Profile bounds,
bound addresses, scratch memory and the current CUDA context are enforced as TensorRT does.
Destruction is recorded in ``FakeGpu.events`` ("context.destroy", "engine.destroy", ...).
"""
from __future__ import annotations

import functools
import math
import weakref

import numpy as np
import onnxruntime

from tests.support.tensorrt.emulated_build import peek
from tests.support.tensorrt.emulation import NUMPY_TYPES, read_plan, settable, write_only
from tests.support.tensorrt.fake_cuda import FakeCudaError

SCRIBBLE = 0xAB  # what an execution leaves in its scratch memory
ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


class RuntimeImpl:
    def __init__(self, logger):
        self._logger = logger

    DLA_core = settable(-1, "int")
    engine_host_code_allowed = settable(False, "bool")

    def deserialize_cuda_engine(self, serialized_engine):
        problem, parsed = self._problem(serialized_engine)
        if problem is not None:
            self._emu.log(self._logger, "ERROR", f"deserialize_cuda_engine: {problem}")
            return None
        return self._emu.new("ICudaEngine", *parsed, self._logger)

    def _problem(self, data):
        emu = self._emu
        parsed = read_plan(data)
        if not emu.gpu.stack():
            return "no CUDA context is current", None
        if parsed is None:
            return "not a serialized engine", None
        header = parsed[0]
        if header["version"] != emu.version:
            return f"plan from TensorRT {header['version']}, this is {emu.version}", None
        if header["dla_core"] is not None and peek(self, "DLA_core") != header["dla_core"]:
            return f"plan for DLA core {header['dla_core']}, runtime has {peek(self, 'DLA_core')}", None
        if header["version_compatible"] and not peek(self, "engine_host_code_allowed"):
            return "version-compatible plan needs engine_host_code_allowed", None
        return self._device_problem(header), parsed

    def _device_problem(self, header) -> str | None:
        """TensorRT refuses a plan from another compute capability unless it was built
        hardware-compatible, and a hardware-compatible one below Ampere."""
        built, here = tuple(header["compute_capability"]), self._emu.gpu.compute_capability
        if header["hardware_compat"]:
            return None if here >= (8, 0) else (f"hardware-compatible plan needs Ampere or "
                                                f"newer, this GPU is sm{here[0]}{here[1]}")
        if built != here:
            return (f"the plan was built for compute capability {built}, this GPU has {here}")
        return None

    def __del__(self):
        self._emu.gpu.events.append("runtime.destroy")


class EngineImpl:
    def _setup(self, header: dict, model: bytes, logger):
        self._header, self._model, self._logger = header, model, logger
        self._names = [*header["inputs"], *header["outputs"]]
        self._weights = self._emu.gpu.allocate(header["weights"])
        self._ort = None
        self._profile_holders: dict[int, weakref.ref] = {}

    num_io_tensors = property(lambda self: len(self._names))
    num_optimization_profiles = property(lambda self: len(self._header["profiles"]))
    device_memory_size = property(lambda self: max(self._header["scratch"]))
    device_memory_size_v2 = device_memory_size

    def get_tensor_name(self, index):
        return self._names[index]

    def get_tensor_mode(self, name):
        mode = ("INPUT" if name in self._header["inputs"] else
                "OUTPUT" if name in self._header["outputs"] else "NONE")
        return self._emu.enum("TensorIOMode", mode)

    def get_tensor_dtype(self, name):
        entry = self._header["inputs"].get(name) or self._header["outputs"][name]
        return self._emu.enum("DataType", entry["dtype"])

    def get_tensor_shape(self, name):
        entry = self._header["inputs"].get(name) or self._header["outputs"][name]
        return self._emu.new("Dims", tuple(d if isinstance(d, int) else -1 for d in entry["dims"]))

    def get_tensor_profile_shape(self, name, profile_index):
        profiles = self._header["profiles"]
        if name not in self._header["inputs"] or not 0 <= profile_index < len(profiles):
            raise RuntimeError(f"get_tensor_profile_shape({name!r}, {profile_index}): not an "
                               f"input or no such profile")
        return [self._emu.new("Dims", tuple(bound)) for bound in profiles[profile_index][name]]

    def get_device_memory_size_for_profile(self, profile_index):
        return self._header["scratch"][profile_index]

    get_device_memory_size_for_profile_v2 = get_device_memory_size_for_profile

    def get_engine_stat(self, stat=None):
        return self._header["weights"] if stat._name == "TOTAL_WEIGHTS_SIZE" else 0

    def create_execution_context(self, strategy=None, runtime_config=None):
        user_managed = strategy is not None and strategy._name == "USER_MANAGED"
        return self._emu.new("IExecutionContext", self, user_managed)

    def create_execution_context_without_device_memory(self):
        return self._emu.new("IExecutionContext", self, True)

    def _session(self) -> onnxruntime.InferenceSession:
        if self._ort is None:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            self._ort = onnxruntime.InferenceSession(self._model, options,
                                                     providers=["CPUExecutionProvider"])
        return self._ort

    def __del__(self):
        gpu = self._emu.gpu
        gpu.events.append("engine.destroy" if gpu.stack() else "engine.destroy without context")
        gpu.release(self._weights)


class ExecutionContextImpl:
    def _setup(self, engine, user_managed: bool):
        self._engine, self._header = weakref.ref(engine), engine._header
        self._logger, self._gpu = engine._logger, self._emu.gpu
        self._profile, self._shapes, self._addresses = 0, {}, {}
        self._owned, self._scratch = None, None
        if not user_managed:
            self._owned = self._gpu.allocate(max(self._header["scratch"]))
            self._scratch = (self._owned, max(self._header["scratch"]))

    def _fail(self, message: str) -> bool:
        self._emu.log(self._logger, "ERROR", message)
        return False

    active_optimization_profile = property(lambda self: self._profile)

    def set_optimization_profile_async(self, profile_index, stream_handle):
        """The bindings assert the C++ bool: a refusal raises RuntimeError. A profile is held
        by one execution context at a time."""
        engine = self._engine()
        holder = engine._profile_holders.get(profile_index) if engine is not None else None
        if not 0 <= profile_index < len(self._header["profiles"]):
            problem = f"no optimization profile {profile_index}"
        elif stream_handle not in self._gpu.streams:
            problem = f"unknown stream {stream_handle:#x}"
        elif holder is not None and holder() not in (None, self):
            problem = f"profile {profile_index} is in use by another execution context"
        else:
            engine._profile_holders.pop(self._profile, None)
            engine._profile_holders[profile_index] = weakref.ref(self)
            self._profile, self._shapes = profile_index, {}
            return True
        self._fail(f"setOptimizationProfileAsync: {problem}")
        raise RuntimeError("Error in set optimization profile async.")

    def set_input_shape(self, name, shape):
        self._emu.calls["set_input_shape"] += 1
        low, _, high = self._header["profiles"][self._profile].get(name, (None, None, None))
        shape = tuple(int(v) for v in shape)
        if low is None or len(shape) != len(low) or not all(
                a <= v <= b for a, v, b in zip(low, shape, high)):
            return self._fail(f"set_input_shape({name!r}, {shape}) is outside profile "
                              f"{self._profile}: {low}..{high}")
        self._shapes[name] = shape
        return True

    def get_tensor_shape(self, name):
        return self._emu.new("Dims", self._resolved_shape(name, self._shapes))

    def _resolved_shape(self, name, shapes) -> tuple[int, ...]:
        if name in self._header["inputs"] and name in shapes:
            return shapes[name]
        symbols = {dim: value for tensor, shape in shapes.items()
                   for dim, value in zip(self._header["inputs"][tensor]["dims"], shape)
                   if isinstance(dim, str)}
        entry = self._header["inputs"].get(name) or self._header["outputs"][name]
        return tuple(d if isinstance(d, int) else symbols.get(d, -1) for d in entry["dims"])

    def set_tensor_address(self, name, memory):
        self._emu.calls["set_tensor_address"] += 1
        if name not in self._header["inputs"] and name not in self._header["outputs"]:
            return self._fail(f"set_tensor_address: no tensor {name!r}")
        try:
            self._gpu.remaining(memory)
        except FakeCudaError as error:
            return self._fail(f"set_tensor_address({name!r}): {error}")
        self._addresses[name] = int(memory)
        return True

    def _set_device_memory_property(self, memory):
        if not isinstance(memory, int) or isinstance(memory, bool):
            raise TypeError(f"device_memory: incompatible value {memory!r}")
        self._scratch = (int(memory), self._gpu.remaining(memory))

    device_memory = write_only(_set_device_memory_property)

    def set_device_memory(self, memory, size):
        if size > self._gpu.remaining(memory):
            raise FakeCudaError(f"set_device_memory: {size} bytes do not fit at {memory:#x}")
        self._scratch = (int(memory), int(size))

    def execute_async_v3(self, stream_handle):
        self._emu.calls["execute_async_v3"] += 1
        problem = self._execution_problem(stream_handle)
        if problem is None and self._emu.fail_executions:
            self._emu.fail_executions -= 1
            problem = "an enqueue failure (emulated on request)"
        if problem is not None:
            return self._fail(f"execute_async_v3: {problem}")
        run = functools.partial(self._run, dict(self._shapes), dict(self._addresses),
                                self._scratch, self._header["scratch"][self._profile])
        self._gpu.streams[stream_handle].enqueue(run)
        return True

    def _execution_problem(self, stream_handle) -> str | None:
        missing_shapes = set(self._header["inputs"]) - set(self._shapes)
        missing_addresses = set(self._names()) - set(self._addresses)
        required = self._header["scratch"][self._profile]
        if stream_handle not in self._gpu.streams:
            return f"unknown stream {stream_handle:#x}"
        if self._engine() is None:
            return "the engine was destroyed"
        if missing_shapes or missing_addresses:
            return f"shapes missing for {missing_shapes}, addresses for {missing_addresses}"
        if self._scratch is None or self._scratch[1] < required:
            return f"scratch memory {self._scratch} is missing or under {required} bytes"
        return None

    def _names(self):
        return [*self._header["inputs"], *self._header["outputs"]]

    def _run(self, shapes, addresses, scratch, scratch_needed) -> None:
        session = self._engine()._session()
        onnx_types = {value.name: ORT_TYPES[value.type] for value in session.get_inputs()}
        feeds = {}
        for name, entry in self._header["inputs"].items():
            dtype = np.dtype(NUMPY_TYPES[entry["dtype"]])
            raw = self._gpu.view(addresses[name], dtype.itemsize * math.prod(shapes[name]))
            value = raw.view(dtype).reshape(shapes[name]).copy()
            if dtype == np.float16 and not np.isfinite(value).all():
                raise AssertionError(f"input {name} holds bytes that are not FP16 values")
            feeds[name] = value.astype(onnx_types[name])  # TensorRT's I/O reformat
        results = session.run(list(self._header["outputs"]), feeds)
        for name, value in zip(self._header["outputs"], results):
            expected = self._resolved_shape(name, shapes)
            if tuple(value.shape) != expected:
                raise AssertionError(f"output {name} came out {value.shape}, shape said {expected}")
            value = value.astype(NUMPY_TYPES[self._header["outputs"][name]["dtype"]])
            flat = np.ascontiguousarray(value).reshape(-1).view(np.uint8)
            self._gpu.view(addresses[name], flat.size)[:] = flat
        self._gpu.view(scratch[0], scratch_needed)[:] = SCRIBBLE

    def __del__(self):
        if "_gpu" not in self.__dict__:
            return  # made without _setup (a strictness test)
        self._gpu.events.append("context.destroy while work is queued"
                                if self._gpu.pending_work() else "context.destroy")
        if self._owned is not None:
            self._gpu.release(self._owned)


RUNTIME_IMPLS = {"Runtime": RuntimeImpl, "ICudaEngine": EngineImpl,
                 "IExecutionContext": ExecutionContextImpl}
