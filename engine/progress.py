"""Progress of the long steps (export, validation, calibration, the INT8 gate, TensorRT
builds): a bar on a terminal, and a line per phase on the ``fuse_trt.progress`` logger.

Library code only reports; the CLI decides where it goes (:func:`enable_phase_lines`).
"""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

PROGRESS_LOGGER = "fuse_trt.progress"
log = logging.getLogger(PROGRESS_LOGGER)
Item = TypeVar("Item")


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Log ``name ...`` on entry and ``name: done in N s`` (or ``failed``) on exit."""
    log.info("%s ...", name)
    start = time.perf_counter()
    try:
        yield
    except BaseException:
        log.info("%s: failed after %.1f s", name, time.perf_counter() - start)
        raise
    log.info("%s: done in %.1f s", name, time.perf_counter() - start)


def bar(total: int | None, name: str):
    """A tqdm bar on stderr when it is a terminal; a no-op bar otherwise."""
    from tqdm import tqdm

    return tqdm(total=total, desc=name, unit="step", leave=False, file=sys.stderr,
                disable=not sys.stderr.isatty())


def steps(items: Iterable[Item], name: str, total: int | None = None) -> Iterator[Item]:
    """``items`` one by one inside a :func:`phase`, with a bar on a terminal."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    with phase(name), bar(total, name) as progress:
        for item in items:
            yield item
            progress.update(1)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (tests swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def enable_phase_lines() -> None:
    """Print progress lines on stderr as plain text (once per process)."""
    if not any(isinstance(handler, _StderrHandler) for handler in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
