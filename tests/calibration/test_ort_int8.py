"""CPU INT8: quantize the tiny model, gate it, load it in the ONNX Runtime backend."""
from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np
import onnx
import pytest

from fuse_trt.calibration.options import Int8Options
from fuse_trt.calibration.ort_int8 import INT8_ONNX_NAME, build_ort_int8
from fuse_trt.calibration.qdq import nonzero_zero_points
from fuse_trt.calibration.quantize import QuantizeConfig, edge_conv_names
from fuse_trt.calibration.scope import KEEP_FP, NARROW_CONV, OUTSIDE_CHAIN
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.errors import AccuracyGateError, FuseTrtError
from fuse_trt.engine.progress import PROGRESS_LOGGER
from fuse_trt.runtime.onnxruntime_backend import OnnxRuntimeBackend
from fuse_trt.runtime.select import open_backend
from tests.support.ort_graph import optimized_graph, resize_scales


def _int8_config(settings: dict) -> Int8Options:
    return Int8Options.from_cli(**settings)


def _every_conv(settings: dict) -> Int8Options:
    """The tiny UNet's convs are nearly all narrower than the default's limit (which keeps
    them FP32, and the quantized few feed nothing the output shows): quantize every one."""
    options = Int8Options.from_cli(**settings)
    return replace(options, quantize=replace(options.quantize, min_int8_channels=1))


def _masked_psnr(reference: np.ndarray, candidate: np.ndarray, mask: np.ndarray) -> float:
    mse = float((mask * (candidate - reference) ** 2).sum() / (mask.sum() * reference.shape[1]))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def _quantized_inputs(path) -> dict[str, bool]:
    """Conv node name -> whether its data input comes out of a DequantizeLinear."""
    graph = onnx.load(str(path)).graph
    producers = {output: node.op_type for node in graph.node for output in node.output}
    return {node.name: producers.get(node.input[0]) == "DequantizeLinear"
            for node in graph.node if node.op_type == "Conv"}


def test_int8_model_loads_in_the_backend_and_passes_the_gate(fresh_bundle, int8_extra,
                                                             tiny_held_out, caplog, tmp_path):
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    bundle = build_ort_int8(fresh_bundle, _every_conv(int8_extra()))
    artifact = Bundle.load(bundle.directory).manifest.find("onnx", "int8")[-1]
    assert artifact.file == INT8_ONNX_NAME and artifact.backend == "onnxruntime"
    gate = artifact.details["gate"]
    assert gate["passed"] and set(gate["tiers"]) == set(bundle.tiers.names())
    assert all(tier["psnr_db"] is None or tier["psnr_db"] >= 35 for tier in gate["tiers"].values())
    assert all(_quantized_inputs(bundle.directory / INT8_ONNX_NAME).values())
    assert artifact.details["int8_ops"] == "between-convs"
    assert set(artifact.details["fp32_nodes"]) == {OUTSIDE_CHAIN}
    assert nonzero_zero_points(bundle.directory / INT8_ONNX_NAME)  # asymmetric on CPU
    scales = resize_scales(optimized_graph(bundle.directory / INT8_ONNX_NAME, tmp_path))
    assert scales and all(value == [1.0, 1.0, 2.0, 2.0] for value in scales)  # NCHW planes
    lines = [record.getMessage() for record in caplog.records]
    for step in ("INT8 calibration: activation ranges on 12 samples: done",
                 "INT8 quantization (between-convs): done", "INT8 accuracy gate on",
                 f"INT8 writing {INT8_ONNX_NAME} into the manifest: done", "INT8 gate: passed"):
        assert any(line.startswith(step) for line in lines), step
    assert sum(line.startswith("INT8 gate tier ") for line in lines) == len(bundle.tiers.names())

    backend = open_backend(bundle, "onnxruntime", "int8")
    assert isinstance(backend, OnnxRuntimeBackend) and backend.onnx_path.name == INT8_ONNX_NAME
    fp32 = open_backend(bundle, "onnxruntime", "fp32")
    with backend, fp32:
        for sample in tiny_held_out:
            expected = fp32.infer(sample.tier, sample.feed)["fused"]
            actual = backend.infer(sample.tier, sample.feed)["fused"]
            assert not np.array_equal(expected, actual)  # it really is quantized
            assert np.abs(expected - sample.feed["composite"]).mean() > 0.01  # model acts
            assert _masked_psnr(expected, actual, sample.feed["mask"]) >= 35.0


def test_impossible_threshold_fails_the_build_and_leaves_the_bundle(fresh_bundle, int8_extra):
    before = (fresh_bundle.directory / "manifest.json").read_text()
    with pytest.raises(AccuracyGateError) as failure:
        build_ort_int8(fresh_bundle, _every_conv(int8_extra(gate_psnr=200.0)))
    message = str(failure.value)
    assert all(f"tier {name}:" in message for name in fresh_bundle.tiers.names())
    first, last = edge_conv_names(fresh_bundle.artifact_path("onnx", "fp32"))
    assert f"--keep-fp {first},{last}" in message
    assert (fresh_bundle.directory / "manifest.json").read_text() == before
    assert sorted(p.name for p in fresh_bundle.directory.iterdir()) == \
        ["manifest.json", "model.onnx", "weights.safetensors"]


def test_keep_fp_leaves_the_named_convs_unquantized(fresh_bundle, int8_extra):
    fp32_path = fresh_bundle.artifact_path("onnx", "fp32")
    scope = QuantizeConfig().scope(fp32_path)
    wide = [name for name in scope.int8 if scope.op_types[name] == "Conv"]
    kept = wide[:2]
    bundle = build_ort_int8(fresh_bundle, _int8_config(int8_extra(keep_fp=",".join(kept))))
    quantized = _quantized_inputs(bundle.directory / INT8_ONNX_NAME)
    assert not any(quantized[name] for name in kept)
    assert all(quantized[name] for name in wide[2:]) and wide[2:]
    details = bundle.manifest.find("onnx", "int8")[-1].details
    assert details["keep_fp"] == kept and details["fp32_nodes"][KEEP_FP]["nodes"] == kept
    narrow = details["fp32_nodes"][NARROW_CONV]["nodes"]  # under 8 channels in or out
    assert narrow and not any(quantized[name] for name in narrow)
    assert sorted(wide + narrow) == sorted(quantized)


def test_unknown_keep_fp_node_is_a_user_error(fresh_bundle, int8_extra):
    with pytest.raises(FuseTrtError, match="does not have: /no/such/Conv"):
        build_ort_int8(fresh_bundle, _int8_config(int8_extra(keep_fp="/no/such/Conv")))
