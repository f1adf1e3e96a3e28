"""Reading and writing images safely: a pixel cap checked from the header before decoding,
one colour convention (RGB uint8) inside, the EXIF orientation applied (a phone photo comes
out upright, as viewers show it), and atomic writes (temp file + rename)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fuse_trt.engine.files import write_bytes_atomic
from fuse_trt.engine.errors import FuseTrtError, InputImageError

DEFAULT_MAX_PIXELS = 64_000_000  # a 8000 x 8000 image


@dataclass(frozen=True)
class LoadedImage:
    """An RGB uint8 image plus what is needed to write it back the way it came."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None  # uint8 HxW when the file had an alpha channel


EXIF_ORIENTATION_TAG = 0x0112


def _header(path: Path, max_pixels: int) -> tuple[tuple[int, int], int]:
    """((width, height), EXIF orientation 1..8) from the file's header, nothing decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as header:
            return header.size, _orientation(header)
    except Image.DecompressionBombError as error:
        # Pillow's own limit lies above any sensible cap of ours.
        raise InputImageError(f"{path}: image dimensions are over the {max_pixels:,}-pixel cap "
                              "(refused before decoding)") from error
    except UnidentifiedImageError as error:
        raise InputImageError(f"{path}: not a readable image (unknown format)") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise InputImageError(f"{path}: not a readable image (header truncated or corrupt)") from error


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Pixels as stored -> pixels as shown, for EXIF orientations 1..8 (rows first axis)."""
    if orientation in (5, 6, 7, 8):
        image = np.swapaxes(image, 0, 1)  # transpose, then flip as the orientation needs
    flip_rows = orientation in (3, 4, 7, 8)
    flip_cols = orientation in (2, 3, 6, 7)
    image = image[::-1] if flip_rows else image
    image = image[:, ::-1] if flip_cols else image
    return np.ascontiguousarray(image)


def _orientation(header) -> int:
    """The EXIF orientation, 1 (as stored) when there is none or it cannot be read (the
    decoder then says whether the image itself is readable)."""
    try:
        orientation = header.getexif().get(EXIF_ORIENTATION_TAG, 1)
    except (OSError, SyntaxError, ValueError):
        return 1
    return orientation if orientation in range(1, 9) else 1


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image // 257).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise InputImageError(f"unsupported pixel type {image.dtype}")


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``path`` to RGB uint8; grey, RGBA and 16-bit files are converted, not rejected."""
    path = Path(path)
    if not path.exists():
        raise InputImageError(f"{path}: file not found")
    if path.is_dir():
        raise InputImageError(f"{path}: is a directory, expected an image file")
    if path.stat().st_size == 0:
        raise InputImageError(f"{path}: file is empty")
    (width, height), orientation = _header(path, max_pixels)
    if width * height > max_pixels:
        raise InputImageError(f"{path}: {width}x{height} is over the {max_pixels:,}-pixel cap")
    data = np.fromfile(path, dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise InputImageError(f"{path}: image data is truncated or corrupt")
    decoded = apply_orientation(_to_uint8(decoded), orientation)
    if decoded.ndim == 2:
        return LoadedImage(cv2.cvtColor(decoded, cv2.COLOR_GRAY2RGB))
    if decoded.shape[2] == 4:
        return LoadedImage(cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGB), alpha=decoded[:, :, 3].copy())
    return LoadedImage(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB, dst=decoded))  # no 2nd frame


def encode_image(path: Path, rgb: np.ndarray, alpha: np.ndarray | None = None) -> bytes:
    """Encode for the format named by ``path``'s extension; alpha kept where the format has it."""
    suffix = path.suffix.lower()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if alpha is not None and suffix in (".png", ".webp", ".tif", ".tiff"):
        bgr = np.dstack([bgr, alpha])
    try:
        ok, encoded = cv2.imencode(suffix, bgr)
    except cv2.error:
        ok = False
    if not ok:
        raise FuseTrtError(f"{path}: cannot write images of type {suffix or '(no extension)'!r}; "
                           "use .png, .jpg or .webp")
    return encoded.tobytes()


def write_image(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None) -> Path:
    path = Path(path)
    if path.is_dir():
        raise FuseTrtError(f"{path}: is a directory; give an output file name such as out.png")
    write_bytes_atomic(path, encode_image(path, rgb, alpha))
    return path
