"""FP16 ONNX: every float tensor converted to float16, inputs and outputs kept float32
(ONNX Runtime's fp16 artifact) or float16 too (``keep_io_types=False``).

TensorRT 11 (and 10.x asked for strong typing) takes precision from the ONNX types, so its
FP16 engines are built from the FP16-I/O file: the plan then takes and returns FP16.
onnxconverter-common is an ``export`` extra.
"""
from __future__ import annotations

from pathlib import Path

import onnx


def fp16_onnx(src: Path, dst: Path, keep_io_types: bool = True) -> Path:
    from onnxconverter_common import float16

    model = onnx.load(str(src))
    # Stale shape-inference types on ops the converter keeps in FP32 (Resize, CumSum) make
    # it emit Casts whose declared type contradicts their input; it re-infers without them.
    del model.graph.value_info[:]
    converted = float16.convert_float_to_float16(model, keep_io_types=keep_io_types)
    dst = Path(dst)
    temp = dst.with_name(f".{dst.name}.tmp")
    onnx.save(converted, str(temp))
    temp.replace(dst)
    return dst
