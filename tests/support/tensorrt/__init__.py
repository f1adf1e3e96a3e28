"""Test-only TensorRT and pycuda: strict stand-ins generated from the API dumps, with an
emulation behind them (host memory as device memory, ONNX Runtime as the engine).

``emulate(version)`` gives an :class:`Emulated` whose ``install(monkeypatch)`` puts the
stand-in ``tensorrt`` and the fake ``pycuda`` into ``sys.modules`` for one test.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from tests.support.tensorrt.dump import VERSIONS
from tests.support.tensorrt.emulation import Emulation, read_plan
from tests.support.tensorrt.fake_cuda import FakeGpu, make_pycuda


@dataclass
class Emulated:
    version: str
    gpu: FakeGpu
    emulation: Emulation

    @property
    def trt(self):
        return self.emulation.module

    def touched(self) -> list[str]:
        """Every TensorRT attribute accessed so far, as 'Class.member' or 'name'."""
        return sorted(object.__getattribute__(self.trt, "_fake_log").names)

    def install(self, monkeypatch) -> Emulated:
        package, driver = make_pycuda(self.gpu)
        monkeypatch.setitem(sys.modules, "tensorrt", self.trt)
        monkeypatch.setitem(sys.modules, "pycuda", package)
        monkeypatch.setitem(sys.modules, "pycuda.driver", driver)
        return self


def emulate(version: str, gpu: FakeGpu | None = None) -> Emulated:
    gpu = gpu or FakeGpu()
    return Emulated(version, gpu, Emulation(version, gpu))


def plan_header(path) -> dict:
    return read_plan(open(path, "rb").read())[0]


__all__ = ["VERSIONS", "Emulated", "FakeGpu", "emulate", "plan_header"]
