"""Calibration feeds held compactly: an image input is exactly ``uint8 / 255`` (the front end
works in uint8), so it is kept as uint8, a quarter of float32, and expanded per use; other
tensors (the feathered mask, identity vectors) stay float32. On disk uint8 tensors are PNG
and float ones zlib, so the cached sets stay far smaller than the feeds they rebuild."""
from __future__ import annotations

import zlib

import cv2
import numpy as np

from fuse_trt.engine.errors import FuseTrtError

_BYTE_SCALE = np.float32(1.0 / 255.0)  # the factor engine.fusion_input.to_planar uses


def expand(stored: np.ndarray) -> np.ndarray:
    """The float32 feed tensor of a stored one."""
    if stored.dtype == np.uint8:
        return stored.astype(np.float32) * _BYTE_SCALE
    return stored


def compact(feed: np.ndarray) -> np.ndarray:
    """uint8 when that loses nothing (``expand`` gives back exactly ``feed``), else ``feed``."""
    feed = np.asarray(feed, dtype=np.float32)
    if feed.size == 0 or feed.min() < 0.0 or feed.max() > 1.0:
        return feed
    as_bytes = np.rint(feed * 255.0).astype(np.uint8)
    return as_bytes if np.array_equal(expand(as_bytes), feed) else feed


def encode(stored: np.ndarray) -> tuple[bytes, dict]:
    """(bytes, how to decode them): PNG for uint8 tensors, zlib for the rest."""
    header = {"shape": list(stored.shape), "dtype": str(stored.dtype)}
    if stored.dtype == np.uint8 and stored.ndim >= 2:
        ok, png = cv2.imencode(".png", stored.reshape(-1, stored.shape[-1]))
        if ok:
            return png.tobytes(), {**header, "codec": "png"}
    return zlib.compress(np.ascontiguousarray(stored).tobytes(), 6), {**header, "codec": "zlib"}


def decode(data: bytes, header: dict) -> np.ndarray:
    shape, dtype = tuple(header["shape"]), np.dtype(header["dtype"])
    if header["codec"] == "png":
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise FuseTrtError("a calibration tensor's PNG data is corrupt")
        return image.reshape(shape)
    return np.frombuffer(zlib.decompress(data), dtype=dtype).reshape(shape).copy()
