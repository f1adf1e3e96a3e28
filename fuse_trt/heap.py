"""Giving freed heap memory back to the operating system.

Closing a backend frees its session, arena and buffers, but glibc keeps freed memory in its
heap for reuse (the parts above the top of the heap and whole free pages inside it stay
resident): without a trim, a closed FaceFusion that fused a few large frames still shows a
few hundred MiB more RSS than one that never ran. ``malloc_trim(0)`` returns those pages.
Other C libraries (musl, macOS, Windows) have no malloc_trim; there nothing is done.
"""
from __future__ import annotations

import ctypes
import sys


def trim_heap() -> bool:
    """Return free heap pages to the OS (glibc ``malloc_trim(0)``); False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
