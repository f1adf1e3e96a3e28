"""FP16 ONNX: every float tensor converted to float16, inputs and outputs kept float32.

TensorRT 11 (and 10.x asked for strong typing) takes precision from the ONNX types, so its
FP16 engines are built from this file. onnxconverter-common is an ``export`` extra.
"""
from __future__ import annotations

from pathlib import Path

import onnx


def fp16_onnx(src: Path, dst: Path) -> Path:
    from onnxconverter_common import float16

    model = onnx.load(str(src))
    # Stale shape-inference types on ops the converter keeps in FP32 (Resize, CumSum) make
    # it emit Casts whose declared type contradicts their input; it re-infers without them.
    del model.graph.value_info[:]
    converted = float16.convert_float_to_float16(model, keep_io_types=True)
    dst = Path(dst)
    temp = dst.with_name(f".{dst.name}.tmp")
    onnx.save(converted, str(temp))
    temp.replace(dst)
    return dst
