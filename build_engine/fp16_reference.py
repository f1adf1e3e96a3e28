"""Evaluate an ONNX graph with true float16 arithmetic (ONNX Runtime's CPU provider would run
most float16 ops in FP32 behind inserted casts and hide overflow).

``onnx.reference`` runs every node in numpy in the dtype the graph gives it, so a float16
tensor is rounded to float16 after every op, and overflow becomes inf as it would on a GPU.
Three of its kernels are loops too slow for image-sized tensors; they are replaced by torch
kernels with the same semantics: Conv reads float16 operands, accumulates in float32 and
rounds its output to float16 (what TensorRT's FP16 convolutions do); MaxPool and nearest
Resize are exact in any dtype. Anything outside what they cover falls back to the reference.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx.reference import ReferenceEvaluator
from onnx.reference.ops.op_conv import Conv as _ReferenceConv
from onnx.reference.ops.op_max_pool import MaxPool as _ReferenceMaxPool
from onnx.reference.ops.op_resize import Resize as _ReferenceResize


def _torch():
    import torch

    return torch


class Conv(_ReferenceConv):
    def _run(self, X, W, B=None, auto_pad=None, dilations=None, group=None, kernel_shape=None,
             pads=None, strides=None):
        if X.ndim != 4 or auto_pad not in (None, "NOTSET"):
            return super()._run(X, W, B, auto_pad=auto_pad, dilations=dilations, group=group,
                                kernel_shape=kernel_shape, pads=pads, strides=strides)
        torch = _torch()
        pads = pads or [0, 0, 0, 0]
        x = torch.from_numpy(np.asarray(X, np.float32))
        x = torch.nn.functional.pad(x, (pads[1], pads[3], pads[0], pads[2]))
        bias = None if B is None else torch.from_numpy(np.asarray(B, np.float32))
        out = torch.nn.functional.conv2d(x, torch.from_numpy(np.asarray(W, np.float32)), bias,
                                         stride=tuple(strides or (1, 1)),
                                         dilation=tuple(dilations or (1, 1)), groups=group or 1)
        return (out.numpy().astype(X.dtype),)


class MaxPool(_ReferenceMaxPool):
    def _run(self, x, auto_pad=None, ceil_mode=None, dilations=None, kernel_shape=None,
             pads=None, storage_order=None, strides=None):
        simple = (x.ndim == 4 and not ceil_mode and not any(pads or ()) and
                  auto_pad in (None, "NOTSET") and all(d == 1 for d in dilations or (1, 1)))
        if not simple or len(self.output) > 1:
            return super()._run(x, auto_pad=auto_pad, ceil_mode=ceil_mode, dilations=dilations,
                                kernel_shape=kernel_shape, pads=pads,
                                storage_order=storage_order, strides=strides)
        torch = _torch()
        out = torch.nn.functional.max_pool2d(torch.from_numpy(np.asarray(x, np.float32)),
                                             tuple(kernel_shape), tuple(strides or kernel_shape))
        return (out.numpy().astype(x.dtype),)


class Resize(_ReferenceResize):
    def _run(self, X, roi=None, scales=None, sizes=None, **attributes):
        factors = None if scales is None or len(scales) == 0 else np.asarray(scales)
        integral = factors is not None and np.all(factors == np.round(factors)) and \
            np.all(factors >= 1)
        nearest = attributes.get("mode") in (None, "nearest") and attributes.get(
            "coordinate_transformation_mode") in (None, "asymmetric") and attributes.get(
            "nearest_mode") in (None, "floor", "round_prefer_floor")
        if not (integral and nearest):
            return super()._run(X, roi, scales, sizes, **attributes)
        out = X
        for axis, factor in enumerate(factors.astype(int)):
            if factor > 1:
                out = np.repeat(out, factor, axis=axis)
        return (out,)


def float16_evaluator(model: onnx.ModelProto | Path | str) -> ReferenceEvaluator:
    """A reference evaluator of ``model`` (a path or a ModelProto) with the fast kernels."""
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    return ReferenceEvaluator(model, new_ops=[Conv, MaxPool, Resize])


def run_float16(model: onnx.ModelProto | Path | str,
                feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{output name: value} of ``model`` on ``feed``, every op in its graph dtype."""
    evaluator = float16_evaluator(model)
    names = [output.name for output in evaluator.proto_.graph.output]
    return dict(zip(names, evaluator.run(None, dict(feed))))
