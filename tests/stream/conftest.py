"""Videos made in the test run from the bundled photos: pans, zooms, frames without a face and a
frame whose JPEG data is corrupted inside an MJPG .avi, written and read back with OpenCV."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest


SIZE = (320, 240)  # (w, h) of every test video
FPS = 10.0


def crop(image: np.ndarray, cx: float, cy: float, w: float, h: float,
         size: tuple[int, int] = SIZE) -> np.ndarray:
    """A w x h window centred on (cx, cy), shifted inside ``image``, resized to ``size``."""
    x0 = int(round(min(max(cx - w / 2, 0), image.shape[1] - w)))
    y0 = int(round(min(max(cy - h / 2, 0), image.shape[0] - h)))
    window = image[y0:y0 + int(round(h)), x0:x0 + int(round(w))]
    if window.shape[1::-1] == size:
        return window.copy()
    return cv2.resize(window, size, interpolation=cv2.INTER_AREA)


def pan(photo: np.ndarray, frames: int, step: float = 2.0, start_x: float = 0.0) -> list:
    """A 320x240 window sliding right by ``step`` px a frame over ``photo`` scaled to 400 px."""
    scaled = cv2.resize(photo, (400, 400), interpolation=cv2.INTER_AREA)
    return [crop(scaled, 160 + start_x + step * i, 140, *SIZE) for i in range(frames)]


def zoom(photo: np.ndarray, frames: int) -> list:
    """Zooming in on the face of ``photo`` (scaled to 400 px) from 1.0x to 1.3x."""
    scaled = cv2.resize(photo, (400, 400), interpolation=cv2.INTER_AREA)
    scales = np.linspace(1.0, 1.0 / 1.3, frames)
    return [crop(scaled, 175, 110, SIZE[0] * s, SIZE[1] * s) for s in scales]


def no_face(grace: np.ndarray) -> list:
    """A blank frame and a background crop without a face."""
    background = cv2.resize(grace[:150, :120], SIZE, interpolation=cv2.INTER_AREA)
    return [np.full((SIZE[1], SIZE[0], 3), 120, np.uint8), background]


def write_video(path: Path, frames: list, fps: float = FPS, fourcc: str = "MJPG") -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def corrupt_frame(path: Path, index: int) -> None:
    """Overwrite the entropy-coded data of JPEG ``index`` inside an MJPG .avi."""
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]
    begin, end = starts[index] + 20, starts[index + 1] - 40
    data[begin:end] = b"\xff" * (end - begin)
    path.write_bytes(bytes(data))


def read_video(path: Path) -> list:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


@dataclass(frozen=True)
class MadeVideo:
    path: Path
    frames: list  # RGB frames as written, before encoding
    no_face: tuple[int, ...]  # indices of frames without a face
    corrupt: int | None  # index of the frame that does not decode


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    return SimpleNamespace(pan=pan, zoom=zoom, no_face=no_face, write_video=write_video,
                           corrupt_frame=corrupt_frame, read_video=read_video, crop=crop)


@pytest.fixture(scope="session")
def mixed_video(tmp_path_factory, astronaut, grace) -> MadeVideo:
    """14 frames: pan (5), no face (2), zoom (4), pan (3); frame 3 (in the pan) is corrupt."""
    frames = pan(astronaut, 5) + no_face(grace) + zoom(astronaut, 4) + pan(astronaut, 3, 3, 20)
    path = write_video(tmp_path_factory.mktemp("video") / "mixed.avi", frames)
    corrupt_frame(path, 3)
    return MadeVideo(path, frames, no_face=(5, 6), corrupt=3)
