"""Validate an exported ONNX against PyTorch at one shape per tier (optimum style).

Every failing output is collected with its max abs difference; one typed error lists them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime

from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierTable
from fuse_trt.engine.errors import ExportValidationError

log = logging.getLogger("fuse_trt")


@dataclass(frozen=True)
class OutputDifference:
    tier: str
    output: str
    max_abs_diff: float
    passed: bool


def validate_onnx(model, onnx_path: Path, spec: ModelSpec, tiers: TierTable) -> list[OutputDifference]:
    """Run ONNX Runtime and PyTorch on the same feed per tier; raise if any output differs."""
    import torch

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    results = []
    model = model.eval()
    for tier in tiers:
        feed = spec.tier_example_feed(tier)
        with torch.inference_mode():
            reference = model(*(torch.from_numpy(feed[name]) for name in spec.input_names))
        reference = reference if isinstance(reference, (tuple, list)) else (reference,)
        exported = session.run(spec.output_names, feed)
        for name, expected, actual in zip(spec.output_names, reference, exported):
            expected = expected.numpy()
            difference = float(np.max(np.abs(expected - actual)))
            passed = bool(np.allclose(actual, expected, atol=spec.atol, rtol=spec.rtol))
            results.append(OutputDifference(tier.name, name, difference, passed))
    failures = [f"tier {r.tier} output {r.output!r}: max abs diff {r.max_abs_diff:.3g} "
                f"> atol {spec.atol}" for r in results if not r.passed]
    if failures:
        raise ExportValidationError(failures)
    log.info("ONNX matches PyTorch: %s", ", ".join(
        f"{r.tier}/{r.output} {r.max_abs_diff:.2g}" for r in results))
    return results
