"""TensorRT 10+'s builder progress (``IProgressMonitor``) as fuse-trt progress: a bar per
build phase on a terminal, a line per top-level phase otherwise.

The subclass is created inside the factory because ``tensorrt`` is imported lazily;
:meth:`TensorRTCompat.attach_progress_monitor` says whether this TensorRT has one.
"""
from __future__ import annotations

import logging
from types import ModuleType

from fuse_trt.engine.progress import PROGRESS_LOGGER, bar

log = logging.getLogger(PROGRESS_LOGGER)


def make_progress_monitor(trt: ModuleType):
    """A ``trt.IProgressMonitor``; keep it alive for as long as the build runs."""

    class ProgressMonitor(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self.bars: dict[str, object] = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            if parent_phase is None or parent_phase == "":
                log.info("TensorRT: %s (%d steps)", phase_name, num_steps)
            self.bars[phase_name] = bar(num_steps, f"TensorRT {phase_name}")

        def step_complete(self, phase_name, step):
            if phase_name in self.bars:
                self.bars[phase_name].update(1)
            return True  # False would cancel the build

        def phase_finish(self, phase_name):
            progress = self.bars.pop(phase_name, None)
            if progress is not None:
                progress.close()

    return ProgressMonitor()
