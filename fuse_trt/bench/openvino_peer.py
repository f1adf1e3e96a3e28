"""OpenVINO's CPU runtime as peer rows of `fuse-trt bench`.

Two peers: ``openvino`` runs the bundle's FP32 ONNX (the same rewritten, inference-shaped graph
ONNX Runtime runs), ``openvino-original`` a user-given ONNX of the graph before our export
rewrites (``BenchConfig.openvino_original_onnx``), which must keep the bundle's I/O contract.
Only the benchmark uses them, never the pipeline's backend selection; ``openvino`` comes from
the ``bench`` extra and is imported when a row is opened. The model is compiled with FP32
inference precision (on a CPU with bfloat16 units OpenVINO would otherwise run bfloat16) and
the latency hint, so a row answers "this ONNX, the same precision, another runtime".
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind, Precision, StrEnum
from fuse_trt.engine.errors import ConfigError, ModelContractError
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierSpec, TierTable
from fuse_trt.runtime.protocol import Backend, BackendMemory


class Peer(StrEnum):
    """The peer rows' backend names."""

    SAME_GRAPH = "openvino"  # the bundle's FP32 ONNX
    ORIGINAL_GRAPH = "openvino-original"  # the graph before the export rewrites


PEERS = tuple(Peer)
# the row field holding "peer median / this row's median" at the same tier
PEER_RATIO_FIELDS = {Peer.SAME_GRAPH: "speedup_vs_openvino",
                     Peer.ORIGINAL_GRAPH: "speedup_vs_openvino_original"}
FP32_ONLY = {Peer.SAME_GRAPH: "the OpenVINO row runs the bundle's FP32 ONNX only",
             Peer.ORIGINAL_GRAPH: "the openvino-original row runs the original graph's FP32 "
                                  "ONNX only"}
CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}


def openvino_installed() -> bool:
    if "openvino" in sys.modules:  # None there: blocked on purpose
        return sys.modules["openvino"] is not None
    return importlib.util.find_spec("openvino") is not None


def openvino_unavailable(precision: str, peer: str = Peer.SAME_GRAPH) -> str | None:
    """None if the ``peer`` row can run ``precision`` here, else why not."""
    if not openvino_installed():
        return "openvino is not installed (pip install 'fuse-trt[bench]')"
    if precision != Precision.FP32:
        return FP32_ONLY[peer]
    return None


def peer_onnx(peer: str, bundle: Bundle, original_onnx: Path | None) -> Path:
    """The ONNX file a peer row runs."""
    if peer != Peer.ORIGINAL_GRAPH:
        return bundle.artifact_path(ArtifactKind.ONNX, Precision.FP32)
    if original_onnx is None:
        raise ConfigError(f"the {peer} row needs the original graph's ONNX "
                          "(fuse-trt bench --openvino-original PATH)")
    return Path(original_onnx)


def _names(values) -> str:
    return ", ".join(repr(value.name) for value in values) or "none"


def _name_problems(inputs: dict, outputs: dict, spec: ModelSpec) -> list[str]:
    missing_in = [name for name in spec.input_names if name not in inputs]
    missing_out = [name for name in spec.output_names if name not in outputs]
    extra_in = [name for name in inputs if name not in spec.input_names]
    problems = [f"missing {kind} {', '.join(map(repr, names))}" for kind, names in
                (("inputs", missing_in), ("outputs", missing_out)) if names]
    if extra_in:  # OpenVINO would want a feed for them
        problems.append(f"inputs {', '.join(map(repr, extra_in))} that {spec.name} "
                        "does not feed")
    return problems


def _shape_problems(found: dict, spec: ModelSpec) -> list[str]:
    problems = []
    for tensor in (*spec.inputs, *spec.outputs):
        if tensor.name not in found:
            continue
        dims = found[tensor.name].type.tensor_type.shape.dim
        expected = tensor.shape(1, 1, 1)
        if len(dims) != len(expected):
            problems.append(f"{tensor.name!r} has {len(dims)} dims, expected "
                            f"{tensor.describe()}")
        elif dims[1].dim_value not in (0, tensor.channels):  # 0: symbolic or unknown
            problems.append(f"{tensor.name!r} has {dims[1].dim_value} channels, expected "
                            f"{tensor.describe()}")
    return problems


def check_original_onnx(path: Path, spec: ModelSpec) -> None:
    """The original graph takes and gives the spec's tensors (names, rank, channels), and
    needs no other input; else one :class:`ModelContractError` naming what is wrong.
    Weights in a side file are not read."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise ModelContractError(f"{path}: no such ONNX file (--openvino-original)")
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except DecodeError as error:
        raise ModelContractError(f"{path}: not an ONNX model ({type(error).__name__})") \
            from error
    constants = {initializer.name for initializer in graph.initializer}
    inputs = {value.name: value for value in graph.input if value.name not in constants}
    outputs = {value.name: value for value in graph.output}
    problems = _name_problems(inputs, outputs, spec) \
        + _shape_problems({**inputs, **outputs}, spec)
    if problems:
        raise ModelContractError(
            f"{path}: the original graph does not keep {spec.name}'s I/O contract: "
            f"{'; '.join(problems)} (it has inputs {_names(inputs.values())}, outputs "
            f"{_names(outputs.values())})")


class OpenVinoBackend(Backend):
    """One compiled model and one infer request for all tiers (dynamic shapes)."""

    name = Peer.SAME_GRAPH

    def __init__(self, onnx_path: Path, spec: ModelSpec, tiers: TierTable,
                 name: str = Peer.SAME_GRAPH):
        super().__init__(spec, tiers, Precision.FP32)
        self.name = name
        self.onnx_path = Path(onnx_path)
        self._request = None

    def _activate_impl(self) -> None:
        import openvino

        compiled = openvino.Core().compile_model(str(self.onnx_path), "CPU", CONFIG)
        self._request = compiled.create_infer_request()

    def _infer_impl(self, tier: TierSpec, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._request.infer(feed)
        return {name: np.array(self._request.get_tensor(name).data, copy=True)
                for name in self.spec.output_names}

    def _memory_impl(self) -> BackendMemory:
        return BackendMemory(weights_bytes=self.onnx_path.stat().st_size)

    def _close_impl(self) -> None:
        self._request = None
