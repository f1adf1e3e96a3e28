"""The files a user hands to `fuse-trt build` (weights, an ONNX model), checked before any
work starts, so a wrong file is one line and not a traceback seconds later."""
from __future__ import annotations

from pathlib import Path

from fuse_trt.engine.errors import FuseTrtError


def check_weights_file(path: Path) -> list[str]:
    """The tensor names of a safetensors file; FuseTrtError when it is not one."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FuseTrtError(f"{path}: file not found")
    try:
        with safe_open(str(path), framework="numpy") as weights:
            return list(weights.keys())
    except (SafetensorError, OSError, ValueError) as error:
        raise FuseTrtError(f"{path}: not a safetensors weights file ({_first_line(error)})") \
            from error


def check_onnx_file(path: Path):
    """The ONNX model at ``path`` (weights kept external); FuseTrtError when it is not one."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise FuseTrtError(f"{path}: file not found")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, OSError, ValueError, RuntimeError) as error:
        raise FuseTrtError(f"{path}: not an ONNX model ({_first_line(error)})") from error
    if not model.graph.node:
        raise FuseTrtError(f"{path}: not an ONNX model (no graph nodes)")
    return model


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
