"""A TensorRT ILogger that forwards every message to ``logging.getLogger("fuse_trt")``.

The ILogger subclass is created inside the factory because ``tensorrt`` is imported lazily.
"""
from __future__ import annotations

import logging
from types import ModuleType

LOGGER_NAME = "fuse_trt"


def make_trt_logger(trt: ModuleType, logger_name: str = LOGGER_NAME):
    """A ``trt.ILogger`` instance; keep it alive as long as the builder or runtime using it."""
    target = logging.getLogger(logger_name)
    ilogger = trt.ILogger
    levels = {
        ilogger.INTERNAL_ERROR: logging.CRITICAL,
        ilogger.ERROR: logging.ERROR,
        ilogger.WARNING: logging.WARNING,
        ilogger.INFO: logging.INFO,
        ilogger.VERBOSE: logging.DEBUG,
    }

    class ForwardingLogger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)

        def log(self, severity, msg):
            python_level = levels.get(severity, logging.WARNING)
            if target.isEnabledFor(python_level):
                target.log(python_level, "TensorRT: %s", msg)

    return ForwardingLogger()
