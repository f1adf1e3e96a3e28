"""PyTorch -> ONNX export, read from the model's ModelSpec, then checked and shape-inferred.

The exporter is TorchScript-based (``dynamo=False``) at the spec's opset because TensorRT 8.6
(JetPack 6.0) parses opset 17 and the dynamo exporter starts at 18.
"""
from __future__ import annotations

import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx

from fuse_trt.build_engine.graph_rewrite import inference_shaped
from fuse_trt.build_engine.schedule import schedule_for_memory
from fuse_trt.engine.errors import ModelContractError
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierSpec

log = logging.getLogger("fuse_trt")

# Above this many parameter bytes, weights go to a side file (protobuf's limit is 2 GiB).
EXTERNAL_DATA_THRESHOLD = 1 << 30


@dataclass(frozen=True)
class ExportConfig:
    opset: int | None = None  # None: the spec's opset
    external_data: bool | None = None  # None: only when the weights need it
    simplify: bool = True
    inference_shaped: bool = True  # exact rewrites (build_engine/graph_rewrite.py)


def export_onnx(model, spec: ModelSpec, path: Path, config: ExportConfig = ExportConfig()) -> Path:
    """Export ``model`` (a torch.nn.Module taking the spec's inputs by name) to ``path``.

    Writes to a temporary file and renames, so ``path`` is never left half-written.
    """
    import torch

    path = Path(path)
    model = model.eval()
    opset = config.opset or spec.opset
    feed = spec.example_feed(1, 2 * spec.stride, 2 * spec.stride)
    args = tuple(torch.from_numpy(feed[name]) for name in spec.input_names)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    external = config.external_data if config.external_data is not None else (
        weight_bytes > EXTERNAL_DATA_THRESHOLD)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        raw_path = Path(scratch) / "raw.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript exporter deprecation notice
            torch.onnx.export(model, args, str(raw_path), input_names=spec.input_names,
                              output_names=spec.output_names, dynamic_axes=spec.dynamic_axes(),
                              opset_version=opset, do_constant_folding=True, dynamo=False)
        graph = onnx.load(str(raw_path))
        if config.simplify:
            graph = simplify(graph)
        graph = schedule_for_memory(graph)
        if config.inference_shaped:
            graph = inference_shaped(graph, {name: array.shape for name, array in
                                             spec.example_feed(1, 16 * spec.stride,
                                                               16 * spec.stride).items()})
        del graph.graph.value_info[:]  # see canonical_order
        graph = onnx.shape_inference.infer_shapes(graph, strict_mode=True)
        save_onnx(canonical_order(graph), path, external_data=external)
    check_onnx(path, spec)
    log.info("exported %s (opset %d, %.1f MB weights)", path, opset, weight_bytes / 1e6)
    return path


def canonical_order(graph: onnx.ModelProto) -> onnx.ModelProto:
    """Value infos sorted by name. The same weights must give the same bytes (hashes, plan
    caches), but the simplifier's symbolic shapes (order and expressions such as
    "(width//2)") change from process to process, so export drops them and keeps what ONNX's
    own shape inference, which is deterministic, derives."""
    infos = sorted(graph.graph.value_info, key=lambda info: info.name)
    del graph.graph.value_info[:]
    graph.graph.value_info.extend(infos)
    return graph


def simplify(graph: onnx.ModelProto) -> onnx.ModelProto:
    """Constant-fold and fuse with onnxslim when it is installed; symbolic dims are kept."""
    try:
        import onnxslim
    except ImportError:
        log.debug("onnxslim not installed; exporting without graph simplification")
        return graph
    return onnxslim.slim(graph)


def save_onnx(graph: onnx.ModelProto, path: Path, external_data: bool = False) -> Path:
    """Atomically write an ONNX file; with ``external_data`` weights go to ``<name>.data``."""
    path = Path(path)
    temp_path = path.with_name(f".{path.name}.tmp")
    if external_data:
        data_name = f"{path.name}.data"
        onnx.save_model(graph, str(temp_path), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=data_name, size_threshold=1024)
    else:
        onnx.save_model(graph, str(temp_path))
    os.replace(temp_path, path)
    return path


def check_onnx(path: Path, spec: ModelSpec) -> None:
    """Full onnx.checker pass plus: the graph's I/O names and dynamic dims match the spec;
    anything else raises :class:`ModelContractError` naming the file."""
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "invalid"
        raise ModelContractError(f"{path}: not a valid ONNX model ({first_line})") from error
    graph = onnx.load(str(path), load_external_data=False).graph
    found = {value.name: value for value in (*graph.input, *graph.output)}
    for tensor in (*spec.inputs, *spec.outputs):
        if tensor.name not in found:
            raise ModelContractError(f"{path}: the model has no tensor {tensor.name!r} "
                                     f"({spec.name} needs {tensor.describe()})")
        dims = found[tensor.name].type.tensor_type.shape.dim
        for axis in tensor.dynamic_axes():
            if axis >= len(dims) or dims[axis].dim_param == "":
                fixed = dims[axis].dim_value if axis < len(dims) else "missing"
                raise ModelContractError(f"{path}: axis {axis} of {tensor.name!r} must be "
                                         f"dynamic, is {fixed}")


def symbolic_dims(path: Path) -> dict[str, list[str | int]]:
    """Each graph input/output's dims: names for symbolic axes, ints for fixed ones."""
    graph = onnx.load(str(path), load_external_data=False).graph
    return {value.name: [dim.dim_param or dim.dim_value
                         for dim in value.type.tensor_type.shape.dim]
            for value in (*graph.input, *graph.output)}
