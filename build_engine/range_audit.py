"""Range audit: does every tensor a reduced-precision graph types as float16 fit in float16?

The FP32 graph runs on ONNX Runtime on audit samples at each tier's max shape; every float
tensor gets an ``Abs -> ReduceMax`` probe, so only one scalar per tensor is kept and the
audit costs about one plain inference per sample. The largest magnitude over the samples of
a tier is compared with :data:`DEFAULT_BOUND`.

The bound is half of float16's largest finite value (65504): headroom of one binade for
inputs brighter, larger or more uniform than the samples (a statistic that doubles still
fits), while anything that would overflow on the samples themselves is refused.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper

from fuse_trt.engine.errors import RangeAuditError

log = logging.getLogger("fuse_trt")

FLOAT16_MAX = 65504.0
DEFAULT_BOUND = FLOAT16_MAX / 2
FLOAT_TYPES = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16)
_PROBE = "range_audit"
REPORT_ROWS = 12  # largest tensors kept in the manifest (all of those over the bound too)

Feed = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class TensorRange:
    tensor: str
    op: str  # the op that makes it (or "initializer")
    tier: str
    max_abs: float

    def to_json(self) -> dict:
        value = self.max_abs if math.isfinite(self.max_abs) else str(self.max_abs)
        return {"tensor": self.tensor, "op": self.op, "tier": self.tier, "max_abs": value}


@dataclass(frozen=True)
class RangeReport:
    """The largest magnitude of every audited tensor, per tier."""

    graph: str  # the reduced-precision file the audit speaks for
    bound: float
    ranges: tuple[TensorRange, ...]
    shapes: dict = field(default_factory=dict)  # tier -> [H, W] audited
    samples: dict = field(default_factory=dict)  # tier -> sample count

    def over(self) -> list[TensorRange]:
        """Tensors above the bound (NaN and inf count as above), largest first."""
        bad = [r for r in self.ranges if not r.max_abs <= self.bound]
        return sorted(bad, key=lambda r: -_sortable(r.max_abs))

    def largest(self, count: int = REPORT_ROWS) -> list[TensorRange]:
        return sorted(self.ranges, key=lambda r: -_sortable(r.max_abs))[:count]

    def to_json(self) -> dict:
        over = self.over()
        rows = over or self.largest()
        return {"graph": self.graph, "bound": self.bound, "tensors": len(
            {r.tensor for r in self.ranges}), "over_bound": len(over), "shapes": self.shapes,
            "samples": self.samples, "largest": [r.to_json() for r in rows[:max(len(over),
                                                                               REPORT_ROWS)]]}

    def check(self) -> RangeReport:
        """Raise a one-line RangeAuditError naming the worst tensor over the bound."""
        over = self.over()
        if over:
            worst = over[0]
            height, width = self.shapes.get(worst.tier, ("?", "?"))
            raise RangeAuditError(
                f"{self.graph}: {len(over)} float16 tensor(s) exceed the range bound "
                f"{self.bound:g}; worst {worst.tensor!r} ({worst.op}) reaches "
                f"{worst.max_abs:.3g} at tier {worst.tier} ({height}x{width})")
        return self


def _sortable(value: float) -> float:
    return math.inf if math.isnan(value) else value


def float_tensors(model: onnx.ModelProto) -> dict[str, str]:
    """{tensor: producing op} for every float tensor a node makes, by shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in (*inferred.graph.value_info, *inferred.graph.output)}
    return {out: node.op_type for node in inferred.graph.node for out in node.output
            if out and types.get(out) in FLOAT_TYPES}


def float16_tensors(reduced: onnx.ModelProto, fp32_ops: Mapping[str, str]) -> dict[str, str]:
    """{FP32-graph tensor: its op there} for every tensor ``reduced`` types as float16.

    A float16 tensor made by a Cast the converter inserted speaks for the tensor it casts.
    """
    known = set(fp32_ops)
    inferred = onnx.shape_inference.infer_shapes(reduced)
    halves = {v.name for v in (*inferred.graph.value_info, *inferred.graph.output)
              if v.type.tensor_type.elem_type == TensorProto.FLOAT16}
    producer = {out: node for node in inferred.graph.node for out in node.output}
    found = {}
    for name in halves:
        while name not in known and name in producer and producer[name].op_type == "Cast":
            name = producer[name].input[0]
        if name in known and name in producer:
            found[name] = fp32_ops[name]
    return found


def probed_model(model: onnx.ModelProto, names: Iterable[str]) -> tuple[onnx.ModelProto, dict]:
    """A copy of ``model`` with one scalar output max(|tensor|) per name; {output: tensor}."""
    probed = onnx.ModelProto()
    probed.CopyFrom(model)
    del probed.graph.output[:]
    outputs = {}
    for index, name in enumerate(sorted(names)):
        absolute, peak = f"{_PROBE}/{index}/abs", f"{_PROBE}/{index}/max"
        probed.graph.node.extend([
            helper.make_node("Abs", [name], [absolute], name=absolute),
            helper.make_node("ReduceMax", [absolute], [peak], name=peak, keepdims=0)])
        probed.graph.output.append(helper.make_tensor_value_info(peak, TensorProto.FLOAT, []))
        outputs[peak] = name
    return probed, outputs


def measure_ranges(model: onnx.ModelProto, names: Iterable[str],
                   feeds: Iterable[Feed]) -> dict[str, float]:
    """{tensor: largest |value| over ``feeds``} from the FP32 graph on ONNX Runtime (CPU)."""
    import onnxruntime

    probed, outputs = probed_model(model, names)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False  # tensors are freed as soon as probed
    session = onnxruntime.InferenceSession(probed.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    peaks = dict.fromkeys(outputs.values(), 0.0)
    order = [o.name for o in session.get_outputs()]
    for feed in feeds:
        for output, value in zip(order, session.run(order, dict(feed))):
            value = float(value)
            tensor = outputs[output]
            peaks[tensor] = value if math.isnan(value) else max(peaks[tensor], value)
    return peaks


def initializer_ranges(reduced: onnx.ModelProto, fp32: onnx.ModelProto) -> list[TensorRange]:
    """Weights the reduced graph stores as float16, measured on their FP32 values."""
    halves = {t.name for t in reduced.graph.initializer if t.data_type == TensorProto.FLOAT16}
    return [TensorRange(t.name, "initializer", "weights",
                        float(np.abs(onnx.numpy_helper.to_array(t)).max(initial=0.0)))
            for t in fp32.graph.initializer if t.name in halves]


@dataclass(frozen=True)
class TierRanges:
    """Every float tensor of the FP32 graph measured at one tier's max shape."""

    tier: str
    shape: tuple[int, int]
    samples: int
    peaks: dict  # tensor -> max |value|


def measure_tiers(fp32: onnx.ModelProto, samples: Mapping[str, list[Feed]]) -> list[TierRanges]:
    """Measure every float tensor of ``fp32`` on ``samples`` ({tier: feeds at its max shape})."""
    names = float_tensors(fp32)
    measured = []
    for tier, feeds in samples.items():
        shape = tuple(int(d) for d in next(iter(feeds[0].values())).shape[2:])
        measured.append(TierRanges(tier, shape, len(feeds), measure_ranges(fp32, names, feeds)))
        log.info("range audit: tier %s at %s on %d sample(s)", tier, shape, len(feeds))
    return measured


def report_for(graph: str, measured: list[TierRanges], audited: Mapping[str, str],
               bound: float = DEFAULT_BOUND, extra: Iterable[TensorRange] = ()) -> RangeReport:
    """The report over the ``audited`` tensors ({tensor: op}) of a reduced graph."""
    ranges = [TensorRange(name, op, tier.tier, tier.peaks[name])
              for tier in measured for name, op in audited.items() if name in tier.peaks]
    return RangeReport(graph, bound, (*ranges, *extra),
                       shapes={t.tier: list(t.shape) for t in measured},
                       samples={t.tier: t.samples for t in measured})


def audit_reduced(fp32: onnx.ModelProto, reduced: onnx.ModelProto, graph: str,
                  measured: list[TierRanges], bound: float = DEFAULT_BOUND) -> RangeReport:
    """The report for ``reduced`` (float16 tensors and weights) from measurements of ``fp32``."""
    audited = float16_tensors(reduced, float_tensors(fp32))
    return report_for(graph, measured, audited, bound, initializer_ranges(reduced, fp32))


def _ellipse_mask(height: int, width: int) -> np.ndarray:
    """A feathered face-sized ellipse: 0.6 x 0.76 of the region, as the face path makes."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = np.hypot((x - width / 2) / (0.3 * width), (y - height / 2) / (0.38 * height))
    return np.clip((1.0 - radius) / 0.15, 0.0, 1.0)


def synthetic_samples(spec, tiers) -> dict[str, list[dict]]:
    """One feed per tier at its max shape: random images, a face-sized mask on the one-channel
    image input, the others cut out by it (the build's fallback when no samples are given)."""
    samples = {}
    for index, tier in enumerate(tiers):
        feed = spec.example_feed(1, *tier.max_shape, seed=index)
        mask = _ellipse_mask(*tier.max_shape)[None, None]
        for tensor in spec.inputs:
            if tensor.layout == "image" and tensor.channels == 1:
                feed[tensor.name] = mask.astype(tensor.dtype)
        samples[tier.name] = [feed]
    return samples
