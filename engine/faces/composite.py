"""Classical blends of a warped source face into a target: the baseline the UNet refines.

All images are RGB uint8 HxWx3 of one size; masks are float HxW in [0, 1] (1 = source).
"""
from __future__ import annotations

import cv2
import numpy as np

_MIN_STD = 1.0  # LAB units; below this a channel is flat and its gain is not trusted
_MAX_GAIN = 4.0
_CLONE_PAD = 4  # px of reflected border so seamlessClone never sees a mask at the edge


def _to_lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _weighted_stats(lab: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = lab.reshape(-1, 3)
    mean = np.average(pixels, axis=0, weights=weights)
    std = np.sqrt(np.average((pixels - mean) ** 2, axis=0, weights=weights))
    return mean, std


def colour_transfer_lab(source_warped: np.ndarray, target: np.ndarray,
                        mask: np.ndarray) -> np.ndarray:
    """The source with its LAB mean and std inside ``mask`` moved to the target's there.

    Statistics of both images are weighted by the mask; the transform is applied to the whole
    source image (compositing decides where it shows). A flat target channel (a grey photo has
    no chroma) flattens the source's channel too.
    """
    weights = np.asarray(mask, dtype=np.float64).ravel()
    if weights.sum() <= 0:
        return source_warped.copy()
    source_lab = _to_lab(source_warped)
    source_mean, source_std = _weighted_stats(source_lab, weights)
    target_mean, target_std = _weighted_stats(_to_lab(target), weights)
    gain = np.clip(target_std / np.maximum(source_std, _MIN_STD), 0.0, _MAX_GAIN)
    moved = (source_lab - source_mean) * gain + target_mean
    rgb = cv2.cvtColor(moved.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def alpha_blend(foreground: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha * foreground + (1 - alpha) * background`` as uint8; ``alpha`` is float HxW."""
    alpha = np.asarray(alpha, dtype=np.float32)[..., None]
    background = background.astype(np.float32)
    blended = background + alpha * (foreground.astype(np.float32) - background)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


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
