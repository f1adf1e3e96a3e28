"""Builder.build_serialized_network for the emulation: validate like TensorRT, emit a plan."""
from __future__ import annotations

import json
import math
import sys

import onnx

from tests.support.tensorrt.emulation import PLAN_MAGIC, PRECISION_FLAGS, call

MAX_CALIBRATION_BATCHES = 8


def peek(obj, name: str):
    """Read a property of a stand-in object without recording an access."""
    return object.__getattribute__(obj, name)


def build_plan_bytes(builder, network, config):
    emu, logger = builder._emu, builder._logger
    problem = _build_problem(emu, network, config)
    if problem is None and "INT8" in config._flags and peek(config, "int8_calibrator") is not None:
        problem = _calibrate(emu, network, config)
    if problem is None:
        problem = _report_progress(emu, config)
    if problem is not None:
        emu.log(logger, "ERROR", f"build_serialized_network: {problem}")
        return None
    if config._timing_cache is not None:
        config._timing_cache._builds += 1
    header = _plan_header(emu, network, config)
    emu.log(logger, "INFO", f"emulated build: {len(header['profiles'])} profiles, "
                            f"{header['precision']}")
    return emu.new("IHostMemory", PLAN_MAGIC + json.dumps(header).encode() + b"\n" + network._model)


BUILD_PHASES = (("Building engine", None, 2), ("Tactic selection", "Building engine", 3))


def _report_progress(emu, config) -> str | None:
    """Drive an attached IProgressMonitor through nested phases, as TensorRT 10 does."""
    members = object.__getattribute__(type(config), "_fake_members")
    monitor = peek(config, "progress_monitor") if "progress_monitor" in members else None
    if monitor is None:
        return None
    if not isinstance(monitor, emu.classes["IProgressMonitor"]):
        return f"progress_monitor is {type(monitor).__name__}, not an IProgressMonitor"
    for name, parent, steps in BUILD_PHASES:
        monitor.phase_start(name, parent, steps)
    for name, _, steps in reversed(BUILD_PHASES):
        for step in range(steps):
            if monitor.step_complete(name, step) is not True:
                return "the progress monitor cancelled the build"
        monitor.phase_finish(name)
    return None


def _build_problem(emu, network, config) -> str | None:
    if network._model is None:
        return "the network is empty (nothing was parsed)"
    flags = config._flags & set(PRECISION_FLAGS)
    if network._strongly_typed and flags:
        return f"precision flags {sorted(flags)} are not allowed in a strongly typed network"
    model = onnx.load_from_string(network._model)
    if "INT8" in flags and peek(config, "int8_calibrator") is None and not _has_qdq(model):
        return "INT8 needs a calibrator or Q/DQ nodes"
    return _profile_problem(network, config) or _dla_problem(emu, config)


def _profile_problem(network, config) -> str | None:
    for tensor in network._inputs:
        name, dims, _ = tensor._tensor
        if -1 not in dims:
            continue
        if not config._profiles:
            return f"input {name} is dynamic but no optimization profile was added"
        for index, profile in enumerate(config._profiles):
            if name not in profile:
                return f"profile {index} has no shape for input {name}"
            for bound in profile[name]:
                if len(bound) != len(dims) or any(d not in (-1, b) for d, b in zip(dims, bound)):
                    return f"profile {index} shape {bound} does not fit input {name} {dims}"
    return None


def _dla_problem(emu, config) -> str | None:
    if peek(config, "default_device_type") != emu.enum("DeviceType", "DLA"):
        return None
    if peek(config, "DLA_core") < 0:
        return "DLA chosen without a DLA core"
    if "GPU_FALLBACK" not in config._flags:
        return "DLA without GPU_FALLBACK: layers DLA cannot run have nowhere to go"
    dynamic = [name for profile in config._profiles for name, (low, opt, high) in profile.items()
               if not low == opt == high]
    return f"DLA has no dynamic shapes; {dynamic} vary" if dynamic else None


def _calibrate(emu, network, config) -> str | None:
    """As TensorRT drives a calibrator: a valid cache skips the batches; an exception from a
    callback is printed and read as "no more data" (the pybind11 trampoline's catch)."""
    calibrator = peek(config, "int8_calibrator")
    shapes = config._calibration_profile or config._profiles[0]
    names = [tensor._tensor[0] for tensor in network._inputs]
    cache = _trampoline(calibrator, "read_calibration_cache")
    if cache is not None and bytes(cache):
        return None
    for batches in range(MAX_CALIBRATION_BATCHES):
        pointers = _trampoline(calibrator, "get_batch", names)
        if not pointers:
            break
        if len(pointers) != len(names):
            return f"get_batch gave {len(pointers)} pointers for inputs {names}"
        for name, pointer in zip(names, pointers):
            emu.gpu.view(int(pointer), 4 * math.prod(shapes[name][1]))
    else:
        batches = MAX_CALIBRATION_BATCHES
    if batches == 0:
        return "the calibrator gave no batches"
    _trampoline(calibrator, "write_calibration_cache", memoryview(b"emulated-calibration-cache"))
    return None


def _trampoline(calibrator, name: str, *args):
    try:
        return call(calibrator, name, *args)
    except Exception as error:  # exactly what TensorRT's Python trampoline does
        print(f"[ERROR] Exception caught in {name}(): {error}", file=sys.stderr)
        return None


def _has_qdq(model) -> bool:
    return any(node.op_type in ("QuantizeLinear", "DequantizeLinear") for node in model.graph.node)


def _has_fp16(model) -> bool:
    return any(tensor.data_type == onnx.TensorProto.FLOAT16 for tensor in model.graph.initializer)


def _dims(value) -> list:
    return [dim.dim_param or dim.dim_value for dim in value.type.tensor_type.shape.dim]


def _plan_header(emu, network, config) -> dict:
    model = onnx.load_from_string(network._model)
    flags, typed = config._flags, network._strongly_typed
    if "INT8" in flags or (typed and _has_qdq(model)):
        precision = "int8"
    elif "FP16" in flags or (typed and _has_fp16(model)):
        precision = "fp16"
    else:
        precision = "fp32"
    profiles = [{name: [list(b) for b in bounds] for name, bounds in p.items()}
                for p in config._profiles]
    scratch = [4096 * (index + 1) + 4 * sum(math.prod(bounds[2]) for bounds in p.values())
               for index, p in enumerate(profiles)]
    dla = peek(config, "default_device_type") == emu.enum("DeviceType", "DLA")
    level = peek(config, "hardware_compatibility_level")
    tensors = {tensor._tensor[0]: tensor._tensor[2] for tensor in
               (*network._inputs, *network._outputs)}
    return {
        "version": emu.version, "precision": precision, "strongly_typed": typed,
        "inputs": {t.name: {"dims": _dims(t), "dtype": tensors[t.name]}
                   for t in model.graph.input if t.name in tensors},
        "outputs": {t.name: {"dims": _dims(t), "dtype": tensors[t.name]}
                    for t in model.graph.output},
        "profiles": profiles, "scratch": scratch, "weights": len(network._model),
        "flags": sorted(flags), "workspace": config._pools.get("WORKSPACE"),
        "dla_core": peek(config, "DLA_core") if dla else None,
        "version_compatible": "VERSION_COMPATIBLE" in flags, "tf32": "TF32" in flags,
        "compute_capability": list(emu.gpu.compute_capability),
        "hardware_compat": level == emu.enum("HardwareCompatibilityLevel", "AMPERE_PLUS"),
    }
