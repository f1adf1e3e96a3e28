"""Native libraries' own log lines (OpenCV's "[ WARN:...]", FFmpeg's "[mov,mp4 @ ...]", libpng's
"libpng warning: iCCP: ...") kept off stderr, where fuse-trt's one-line message already says what
went wrong; -vv lets them through. FFmpeg reads its level when OpenCV first opens a video, so
quiet_native_logs runs before any. libpng and libjpeg write straight to file descriptor 2, so
image reads and writes run inside native_messages_logged, which sends what they print there to
the debug log instead."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile

QUIET_FFMPEG = "-8"  # AV_LOG_QUIET
log = logging.getLogger("fuse_trt")


def quiet_native_logs(verbose: int) -> None:
    if verbose >= 2:
        return
    import cv2

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", QUIET_FFMPEG)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


@contextlib.contextmanager
def native_messages_logged():
    """What native code writes to file descriptor 2 inside the block goes to the debug log
    (shown with -vv, when nothing is captured). For single-threaded image I/O only: fd 2 is
    the process's, so Python's own stderr output must not happen inside the block."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if line.strip():
                    log.debug("native: %s", line.strip())
