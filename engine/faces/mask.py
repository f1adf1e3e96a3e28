"""Soft face masks drawn in ArcFace template space and mapped onto the target face.

The mask is an ellipse in the 112x112 template covering brows to chin and cheek to cheek,
not hair, ears or jaw line. It is mapped to the image through the similarity transform from
the template to the face's landmarks, so it turns, scales and moves with the face, then
feathered with a Gaussian whose sigma is a fraction of the face size.

Work scales with the image, not with the face: dilation is a threshold on a distance transform
(linear time, any radius), and a Gaussian wider than ``EXACT_BLUR_SIGMA`` runs at a reduced
scale and is resized back (a smooth result loses nothing visible), so an 8000x8000 photo
with one large face costs about what a small one does per pixel.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fuse_trt.engine.faces.align import ARCFACE_TEMPLATE_112, similarity_transform, transform_points

# Ellipse in template coordinates: centre between the eyes and the mouth, brows to chin.
MASK_CENTRE_112 = (56.0, 70.0)
MASK_AXES_112 = (37.0, 45.0)  # semi-axes (x, y) of the outline the feathered mask fades out at
MASK_POLYGON_POINTS = 96
DEFAULT_FEATHER = 0.08
_SHRINK_SIGMAS = 2.5
_SUBPIXEL_BITS = 4
# A Gaussian tail never reaches exactly 0 or 1; values this close are snapped by a linear
# remap (continuous, so no visible step) so the core is exactly 1 and the outside exactly 0.
_SNAP = 1e-3
EXACT_BLUR_SIGMA = 6.0  # wider Gaussians are computed at reduced scale
EXACT_DILATION_PIXELS = 32  # wider dilations are computed at reduced scale


def template_ellipse() -> np.ndarray:
    """(N, 2) float64 polygon of the mask ellipse in template coordinates."""
    angles = np.linspace(0.0, 2.0 * np.pi, MASK_POLYGON_POINTS, endpoint=False)
    return np.stack([MASK_CENTRE_112[0] + MASK_AXES_112[0] * np.cos(angles),
                     MASK_CENTRE_112[1] + MASK_AXES_112[1] * np.sin(angles)], axis=1)


def _shrunk_ellipse(margin: float) -> np.ndarray:
    """The template ellipse scaled about its centre so its short semi-axis loses ``margin``."""
    shrink = max(0.0, 1.0 - margin / min(MASK_AXES_112))
    centre = np.asarray(MASK_CENTRE_112)
    return centre + (template_ellipse() - centre) * shrink


def _fill_polygon(shape_hw: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape_hw, dtype=np.float32)
    points = np.round(polygon * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    cv2.fillPoly(mask, [points], 1.0, lineType=cv2.LINE_AA, shift=_SUBPIXEL_BITS)
    return mask


def face_mask(shape_hw: tuple[int, int], landmarks: np.ndarray,
              feather: float = DEFAULT_FEATHER) -> np.ndarray:
    """Float32 HxW mask in [0, 1] of the face at ``landmarks``: 1 inside, feathered edge.

    ``feather`` is the Gaussian sigma as a fraction of the ellipse's short semi-axis in image
    pixels (0 gives an anti-aliased hard edge). The ellipse is drawn shrunk by 2.5 sigma, so
    the mask is 0.5 there and fades to 0 close to the template ellipse (cheeks, brows, chin)
    instead of spilling onto hair and jaw.
    """
    to_image = similarity_transform(ARCFACE_TEMPLATE_112, landmarks)
    scale = float(np.sqrt(abs(np.linalg.det(to_image[:, :2]))))
    sigma_template = feather * min(MASK_AXES_112)
    polygon = _shrunk_ellipse(_SHRINK_SIGMAS * sigma_template)
    mask = _fill_polygon(tuple(shape_hw), transform_points(to_image, polygon))
    sigma = sigma_template * scale
    if sigma >= 0.3:
        mask = gaussian_blur(mask, sigma)
    mask -= _SNAP
    mask *= 1.0 / (1.0 - 2.0 * _SNAP)
    return np.clip(mask, 0.0, 1.0, out=mask)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Float32 Gaussian blur (replicated border); above EXACT_BLUR_SIGMA at reduced scale."""
    image = np.asarray(image, dtype=np.float32)
    if sigma <= EXACT_BLUR_SIGMA:
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    factor = sigma / EXACT_BLUR_SIGMA * 1.5  # blur still spans 4 px of the small image
    height, width = image.shape[:2]
    small_size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    small_sigma = sigma * small_size[0] / width
    small = cv2.GaussianBlur(small, (0, 0), small_sigma, borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def dilate_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Binary float32 mask, 1 wherever ``mask > 0`` (feather band included), grown by
    ``pixels`` (a disc: every pixel within that Euclidean distance of the mask)."""
    return dilate_masks(mask, (pixels,))[0]


def dilate_masks(mask: np.ndarray, pixels: Sequence[int]) -> list[np.ndarray]:
    """:func:`dilate_mask` by each of ``pixels``; the exact dilations share one distance
    transform, over the mask's box grown by the widest of them."""
    inside = np.asarray(mask) > 0
    box = _box(inside)
    exact = [p for p in pixels if 0 < p and _scale_factor(p) == 1]
    if box is not None and exact:  # every pixel within p of the mask lies in the box grown by p
        window = _grown_box(box, max(exact) + 1, inside.shape)
        distance = _distance_to(inside[window])
    grown_masks = []
    for p in pixels:
        if p <= 0 or box is None:
            grown_masks.append(inside.astype(np.float32))
            continue
        grown = np.zeros(inside.shape, np.float32)  # pages far from the face are never touched
        if _scale_factor(p) == 1:
            grown[window] = distance <= p
        else:
            _dilate_at_reduced_scale(inside, box, p, grown)
        grown_masks.append(grown)
    return grown_masks


def _scale_factor(pixels: int) -> int:
    return max(1, pixels // EXACT_DILATION_PIXELS)


def _dilate_at_reduced_scale(inside: np.ndarray, box: tuple[int, int, int, int], pixels: int,
                             grown: np.ndarray) -> None:
    """A wide band at 1/factor scale into ``grown``: its edge lands within ``factor`` px of the
    exact one."""
    factor = _scale_factor(pixels)
    height, width = inside.shape
    small_size = (max(1, width // factor), max(1, height // factor))
    small = cv2.resize(inside.astype(np.float32), small_size, interpolation=cv2.INTER_AREA) > 0
    band = (_distance_to(small) <= pixels / factor).astype(np.uint8)
    band = cv2.resize(band, (width, height), interpolation=cv2.INTER_NEAREST)
    window = _union(_box(band), box)
    grown[window] = np.maximum(band[window], inside[window])


def _box(image: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) of the non-zero pixels of a bool or uint8 image; None if there are none."""
    x, y, w, h = cv2.boundingRect(image.view(np.uint8))
    return None if w == 0 or h == 0 else (x, y, w, h)


def _grown_box(box: tuple[int, int, int, int], margin: int,
               shape_hw: tuple[int, int]) -> tuple[slice, slice]:
    x, y, w, h = box
    return (slice(max(0, y - margin), min(shape_hw[0], y + h + margin)),
            slice(max(0, x - margin), min(shape_hw[1], x + w + margin)))


def _union(first: tuple[int, int, int, int] | None,
           second: tuple[int, int, int, int]) -> tuple[slice, slice]:
    boxes = [b for b in (first, second) if b is not None]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return slice(y0, y1), slice(x0, x1)


def _distance_to(inside: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest ``inside`` pixel (0 there)."""
    outside = np.logical_not(inside).astype(np.uint8)
    return cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def seam_band(mask: np.ndarray) -> np.ndarray:
    """Float32 weights peaking at 1 where mask is 0.5, > 0 only where 0 < mask < 1."""
    mask = np.asarray(mask, dtype=np.float32)
    band = 4.0 * mask * (1.0 - mask)
    band[(mask <= 0.0) | (mask >= 1.0)] = 0.0
    return np.clip(band, 0.0, 1.0, out=band)
