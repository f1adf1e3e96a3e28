"""Native libraries' own log lines (OpenCV's "[ WARN:...]", FFmpeg's "[mov,mp4 @ ...]") kept
off stderr, where fuse-trt's one-line message already says what went wrong; -vv lets them
through. FFmpeg reads its level when OpenCV first opens a video, so this runs before any."""
from __future__ import annotations

import os

QUIET_FFMPEG = "-8"  # AV_LOG_QUIET


def quiet_native_logs(verbose: int) -> None:
    if verbose >= 2:
        return
    import cv2

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", QUIET_FFMPEG)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
