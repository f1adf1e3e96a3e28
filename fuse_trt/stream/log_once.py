"""Warnings that would repeat on every frame of a stream (an image above the largest tier, a
frame left unchanged) are logged the first time and then counted; the count is logged once
when the stream ends."""
from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterator

log = logging.getLogger("fuse_trt")


class RepeatedWarnings(logging.Filter):
    """Lets the first record of each warning template through and counts the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.repeats: Counter[str] = Counter()
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        template = str(record.msg)
        if template not in self._seen:
            self._seen.add(template)
            return True
        self.repeats[template] += 1
        return False


@contextlib.contextmanager
def warnings_once_per_run() -> Iterator[RepeatedWarnings]:
    collapsing = RepeatedWarnings()
    log.addFilter(collapsing)
    try:
        yield collapsing
    finally:
        log.removeFilter(collapsing)
        for template, count in collapsing.repeats.items():
            log.warning("the warning %r came %d more time(s) in this run",
                        template.split(";")[0].replace("%d", "N").replace("%s", "..."), count)
