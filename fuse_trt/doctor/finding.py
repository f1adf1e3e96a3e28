"""One line of `fuse-trt doctor`: a topic, a status and what was found."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    OK = "ok"
    INFO = "info"  # optional and absent, or a plain fact
    MISSING = "missing"  # optional and needed only for a non-default job (TensorRT, GPU)
    PROBLEM = "problem"  # something the default job needs is broken


@dataclass(frozen=True)
class Finding:
    topic: str
    status: Status
    detail: str
    required: bool = False  # True: the default job (fuse on ONNX Runtime) needs it

    @property
    def blocks_default_job(self) -> bool:
        return self.required and self.status is Status.PROBLEM

    def line(self) -> str:
        return f"{self.status.value:<8} {self.topic}: {self.detail}"
