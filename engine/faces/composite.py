"""Classical blends of a warped source face into a target: the baseline the UNet refines.

All images are RGB uint8 HxWx3 of one size; masks are float HxW in [0, 1] (1 = source).
Work is confined to the box around the mask's non-zero pixels, and the colour statistics of
a large face come from a regular subsample, so cost follows the face, not the photo.
"""
from __future__ import annotations

import cv2
import numpy as np

_MIN_STD = 1.0  # LAB units; below this a channel is flat and its gain is not trusted
_MAX_GAIN = 4.0
_CLONE_PAD = 4  # px of reflected border so seamlessClone never sees a mask at the edge
_STATS_PIXELS = 1 << 20  # colour statistics from at most about this many pixels
_STRIP_PIXELS = 1 << 18  # pointwise work on a large box goes in strips of this many pixels


def _nonzero_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Row and column slices of the smallest box holding every ``mask > 0`` pixel."""
    x, y, w, h = cv2.boundingRect((np.asarray(mask) > 0).astype(np.uint8))
    return None if w == 0 or h == 0 else (slice(y, y + h), slice(x, x + w))


def _to_lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _weighted_stats(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LAB mean and std of ``image`` weighted by ``mask``, from a regular subsample (the LAB
    conversion is per pixel, so only the subsample is converted)."""
    step = max(1, int(np.ceil(np.sqrt(mask.size / _STATS_PIXELS))))
    pixels = _to_lab(image[::step, ::step]).reshape(-1, 3).astype(np.float64)
    weights = np.asarray(mask[::step, ::step], dtype=np.float64).ravel()
    total = weights.sum()  # weighted averages as matrix products: one pass each
    mean = weights @ pixels / total
    std = np.sqrt(weights @ np.square(pixels - mean) / total)
    return mean, std


def row_strips(rows: slice, columns: slice, pixels: int = _STRIP_PIXELS):
    """(rows, columns) slices covering the box in strips of about ``pixels`` pixels each.

    Pointwise work on a large box goes strip by strip, so its float temporaries stay a few
    MiB instead of several times the box (fresh memory that size costs more to fault in than
    the arithmetic on it); the values are the same as on the whole box at once."""
    step = max(1, pixels // max(1, columns.stop - columns.start))
    for start in range(rows.start, rows.stop, step):
        yield slice(start, min(start + step, rows.stop)), columns


def colour_transfer_lab(source_warped: np.ndarray, target: np.ndarray,
                        mask: np.ndarray) -> np.ndarray:
    """The source with its LAB mean and std inside ``mask`` moved to the target's there.

    Statistics of both images are weighted by the mask; the transform is applied inside the
    box around the mask's non-zero pixels, the source is copied unchanged outside it
    (compositing with the mask shows nothing there). A flat target channel (a grey photo has
    no chroma) flattens the source's channel too.
    """
    box = _nonzero_box(mask)
    moved_image = source_warped.copy()
    if box is None:
        return moved_image
    source_mean, source_std = _weighted_stats(source_warped[box], mask[box])
    target_mean, target_std = _weighted_stats(target[box], mask[box])
    gain = np.clip(target_std / np.maximum(source_std, _MIN_STD), 0.0, _MAX_GAIN)
    for strip in row_strips(*box):
        moved = (_to_lab(source_warped[strip]) - source_mean.astype(np.float32)) \
            * gain.astype(np.float32) + target_mean.astype(np.float32)
        rgb = cv2.cvtColor(moved, cv2.COLOR_LAB2RGB)
        moved_image[strip] = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    return moved_image


def alpha_blend(foreground: np.ndarray, background: np.ndarray, alpha: np.ndarray,
                in_place: bool = False) -> np.ndarray:
    """``alpha * foreground + (1 - alpha) * background`` as uint8; ``alpha`` is float HxW.
    ``in_place``: the blend is written into ``background`` (uint8), which is returned."""
    result = background if in_place else np.array(background, dtype=np.uint8, copy=True)
    box = _nonzero_box(alpha)
    if box is None:
        return result
    for strip in row_strips(*box):
        weight = np.asarray(alpha[strip], dtype=np.float32)[..., None]
        base = background[strip].astype(np.float32)
        blended = base + weight * (foreground[strip].astype(np.float32) - base)
        result[strip] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return result


def naive_paste(source_warped: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Source pixels where ``mask > 0.5``, target pixels elsewhere (hard edge)."""
    return np.where((np.asarray(mask) > 0.5)[..., None], source_warped, target)


def seamless_clone(source_warped: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson blend (``cv2.seamlessClone``, NORMAL_CLONE) of the source over ``mask > 0.5``.

    OpenCV solves over the mask's bounding box, so target pixels just outside the mask (inside
    that box) can shift too; pixels outside the box are the target's. Both images are
    reflect-padded so a mask touching the image border still works; OpenCV erodes the mask it
    is given in place, so it only ever sees a private copy.
    """
    binary = (np.asarray(mask) > 0.5).astype(np.uint8) * 255
    if not binary.any():
        return target.copy()
    pad = _CLONE_PAD
    source_pad = cv2.copyMakeBorder(source_warped, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    target_pad = cv2.copyMakeBorder(target, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    mask_pad = cv2.copyMakeBorder(binary, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    x, y, w, h = cv2.boundingRect(mask_pad)
    centre = (x + w // 2, y + h // 2)
    cloned = cv2.seamlessClone(source_pad, target_pad, mask_pad.copy(), centre, cv2.NORMAL_CLONE)
    return cloned[pad:-pad, pad:-pad].copy()
