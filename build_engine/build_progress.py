"""An elapsed-time heartbeat naming the current phase of a TensorRT build, on every version
(8.6 has no IProgressMonitor; on 10.x and later runtime/trt_progress.py reports TensorRT's own
phases as well).

Reports go to a ``report`` callable (a module-level function, so a build config carrying it
pickles into a build subprocess).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("fuse_trt")

Report = Callable[[str], None]
HEARTBEAT_SECONDS = 30.0


def log_progress(message: str) -> None:
    """The default report: a warning-level line, shown by the CLI without -v (and by Python's
    last-resort handler in a build subprocess)."""
    log.warning("%s", message)


class BuildProgress:
    """The current phase and the elapsed time of one build."""

    def __init__(self, report: Report, what: str):
        self.report, self.what = report, what
        self.phase = "parsing the ONNX"
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.report(f"TensorRT build of {self.what}: {phase} ({self.elapsed:.0f} s)")

    @contextmanager
    def heartbeat(self, interval: float = HEARTBEAT_SECONDS) -> Iterator[None]:
        """While the block runs, report the phase and elapsed time every ``interval`` s."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(interval):
                self.report(f"TensorRT build of {self.what}: still {self.phase} "
                            f"({self.elapsed:.0f} s elapsed)")

        thread = threading.Thread(target=beat, name="fuse-trt-build-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
