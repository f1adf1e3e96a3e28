"""Ctrl-C and SIGTERM as stop requests, so a stream is finalised instead of killed."""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(request_stop: Callable[[], None]) -> Iterator[list[int]]:
    """Route SIGINT/SIGTERM to ``request_stop`` while inside; yields the signals received.

    A first signal asks for a graceful stop, a second for an abort (``request_stop`` decides).
    Outside the main thread, where Python cannot install handlers, this does nothing.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        request_stop()

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield received
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
