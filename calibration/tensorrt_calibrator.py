"""Implicit INT8 calibration for TensorRT 8.6 and weakly typed 10.x: an entropy calibrator.

The ``IInt8EntropyCalibrator2`` subclass is defined inside :func:`make_entropy_calibrator`,
never at module top: tensorrt may be absent, and 11.x has no such class (it takes a Q/DQ
ONNX instead; :meth:`TensorRTCompat.int8_mode` decides). Each input gets one device buffer,
allocated at the first batch; every batch is copied into it once. The calibration cache is
a file in the bundle named by the ONNX's sha256 (and the TensorRT version), so a rebuild of
the same model skips calibration and a changed model never reuses a stale table.

TensorRT's Python trampoline catches any exception from ``get_batch``, prints it and reads
it as "end of data", which would truncate calibration silently. The calibrator therefore
catches it itself, keeps it as ``failure``, ends the data and writes no cache; the builder
raises it after the build.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np

from fuse_trt.calibration.dataset import CalibrationSample
from fuse_trt.engine.files import write_bytes_atomic

log = logging.getLogger("fuse_trt")

Batch = dict  # input name -> float32 array with the calibration profile's opt shape


class DeviceInput(Protocol):
    address: int

    def upload(self, array: np.ndarray) -> None:
        """Copy ``array`` to the device; it is there when this returns."""

    def free(self) -> None: ...


DeviceAlloc = Callable[[tuple, np.dtype], DeviceInput]


def calibration_cache_path(bundle_dir: Path, onnx_sha256: str, tensorrt_version: str) -> Path:
    return Path(bundle_dir) / f"calibration.{onnx_sha256[:16]}.trt{tensorrt_version}.cache"


def profile_batches(samples: list[CalibrationSample], input_names: Sequence[str],
                    tier: str, shape_hw: tuple[int, int], batch: int = 1) -> list[Batch]:
    """The tier's samples whose planned shape is ``shape_hw``, stacked ``batch`` at a time.

    TensorRT calibrates at the opt shape of the calibration profile, so only those samples fit.
    """
    fitting = [s for s in samples if s.tier == tier and s.shape == tuple(shape_hw)]
    return [{name: np.concatenate([s.feed[name] for s in fitting[start:start + batch]])
             for name in input_names}
            for start in range(0, len(fitting) - batch + 1, batch)]


def make_entropy_calibrator(trt: ModuleType, batches: Sequence[Batch], cache_path: Path,
                            device_alloc: DeviceAlloc):
    """An ``IInt8EntropyCalibrator2`` over ``batches``, caching its table at ``cache_path``."""
    cache_path = Path(cache_path)

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._batches = list(batches)
            self._next = 0
            self._inputs: dict[str, DeviceInput] = {}
            self.failure: Exception | None = None

        def get_batch_size(self) -> int:
            return 1  # explicit-batch networks: the batch is part of each input's shape

        def get_batch(self, names):
            if self.failure is not None or self._next >= len(self._batches):
                self._free()
                return None
            batch = self._batches[self._next]
            self._next += 1
            try:
                return [self._upload(name, batch[name]) for name in names]
            except Exception as error:  # kept and raised by the builder after the build
                self.failure = error
                log.error("INT8 calibration: batch %d failed: %s", self._next, error)
                self._free()
                return None

        def _upload(self, name: str, array: np.ndarray) -> int:
            array = np.ascontiguousarray(array, dtype=np.float32)
            if name not in self._inputs:
                self._inputs[name] = device_alloc(array.shape, array.dtype)
            self._inputs[name].upload(array)
            return int(self._inputs[name].address)

        def _free(self) -> None:
            for buffer in self._inputs.values():
                buffer.free()
            self._inputs.clear()

        def read_calibration_cache(self):
            if cache_path.is_file():
                log.info("INT8 calibration: reusing %s", cache_path)
                return cache_path.read_bytes()
            return None

        def write_calibration_cache(self, cache) -> None:
            if self.failure is not None:
                log.error("INT8 calibration: not writing %s (a batch failed)", cache_path)
                return
            write_bytes_atomic(cache_path, bytes(memoryview(cache)))
            log.info("INT8 calibration: wrote %s", cache_path)

    return EntropyCalibrator()


class _PycudaInput:
    """Pinned host staging + one device buffer; uploads on its own stream and waits."""

    def __init__(self, shape: tuple, dtype: np.dtype):
        from fuse_trt.runtime.cuda_memory import TensorBuffers, load_pycuda

        cuda = load_pycuda()
        self._buffers = TensorBuffers(cuda, tuple(shape), np.dtype(dtype))
        self._stream = cuda.Stream()
        self.address = self._buffers.device.address

    def upload(self, array: np.ndarray) -> None:
        self._buffers.upload(array, self._stream)
        self._stream.synchronize()

    def free(self) -> None:
        self._buffers.free()


def pycuda_device_alloc(shape: tuple, dtype: np.dtype) -> DeviceInput:
    """Device memory through pycuda, in the CUDA context current during the build."""
    return _PycudaInput(shape, dtype)


@dataclass(frozen=True)
class EntropyCalibratorFactory:
    """Picklable: the TensorRT builder (maybe in a subprocess) calls it with the trt module."""

    batches: tuple[Batch, ...]
    cache_path: Path
    device_alloc: DeviceAlloc = pycuda_device_alloc

    def __call__(self, trt: ModuleType):
        return make_entropy_calibrator(trt, self.batches, self.cache_path, self.device_alloc)
