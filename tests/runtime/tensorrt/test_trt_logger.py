"""TensorRT's messages reach logging.getLogger("fuse_trt") at the matching level."""
import logging

import pytest

from fuse_trt.runtime.trt_logger import make_trt_logger
from tests.support.tensorrt import VERSIONS, emulate


@pytest.mark.parametrize("version", VERSIONS)
def test_severities_map_to_logging_levels(version, caplog):
    trt = emulate(version).trt
    logger = make_trt_logger(trt)
    assert isinstance(logger, trt.ILogger)
    caplog.set_level(logging.DEBUG, logger="fuse_trt")
    for severity in ("INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"):
        logger.log(getattr(trt.ILogger, severity), f"a {severity} message")
    assert [(r.name, r.levelno) for r in caplog.records] == [
        ("fuse_trt", logging.CRITICAL), ("fuse_trt", logging.ERROR),
        ("fuse_trt", logging.WARNING), ("fuse_trt", logging.INFO), ("fuse_trt", logging.DEBUG)]
    assert caplog.records[1].getMessage() == "TensorRT: a ERROR message"
