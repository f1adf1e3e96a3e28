"""One calibration input: a crop of a real image made into exactly what the UNet sees.

Face photos go through the inference path (``prepare_face`` with a source face from another
photo, then the tier plan and ``ModelSpec.feed``, as ``refine_batch`` does). Natural images get
a synthetic face-like input: a feathered ellipse mask, a colour-perturbed copy of the crop
blended inside it as the composite, and the context with the dilated region zeroed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from fuse_trt.engine.faces import Face, alpha_blend, dilate_mask
from fuse_trt.engine.fusion_input import context_image, fusion_images, prepare_face
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierTable

Shape2D = tuple[int, int]


@dataclass(frozen=True)
class FacePhoto:
    """A photo and its largest detected face (the target or the source of a fusion)."""

    name: str
    image: np.ndarray
    face: Face


def _box_around(centre: tuple[float, float], side: float, shape_hw: Shape2D,
                image_hw: Shape2D) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): area ~side^2 with the aspect of ``shape_hw``, shifted into the image."""
    aspect = shape_hw[1] / shape_hw[0]
    width, height = side * math.sqrt(aspect), side / math.sqrt(aspect)
    shrink = min(1.0, image_hw[1] / width, image_hw[0] / height)
    width, height = max(1, int(width * shrink)), max(1, int(height * shrink))
    x0 = int(min(max(centre[0] - width / 2, 0), image_hw[1] - width))
    y0 = int(min(max(centre[1] - height / 2, 0), image_hw[0] - height))
    return x0, y0, x0 + width, y0 + height


def _crop_resized(image: np.ndarray, box: tuple[int, int, int, int], shape_hw: Shape2D):
    """The box of ``image`` resized to ``shape_hw`` and the (scale_x, scale_y) it took."""
    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]
    height, width = shape_hw
    interpolation = cv2.INTER_AREA if width < crop.shape[1] else cv2.INTER_LINEAR
    resized = cv2.resize(crop, (width, height), interpolation=interpolation)
    return resized, (width / crop.shape[1], height / crop.shape[0])


def _face_in_crop(face: Face, box: tuple[int, int, int, int], scale: tuple[float, float]) -> Face:
    origin, factor = np.float32(box[:2]), np.float32(scale)
    landmarks = ((face.landmarks - origin) * factor).astype(np.float32)
    x, y, w, h = face.box
    crop_box = ((x - box[0]) * scale[0], (y - box[1]) * scale[1], w * scale[0], h * scale[1])
    return Face(crop_box, landmarks, face.score)


def face_prep(target: FacePhoto, source: FacePhoto, shape_hw: Shape2D,
              rng: np.random.Generator):
    """The inference face path on a crop of ``target`` of ``shape_hw`` around its face."""
    x, y, w, h = target.face.box
    side = max(w, h) * (1.0 + 2.0 * rng.uniform(0.3, 0.9))
    box = _box_around((x + w / 2, y + h / 2), side, shape_hw, target.image.shape[:2])
    crop, scale = _crop_resized(target.image, box, shape_hw)
    face = _face_in_crop(target.face, box, scale)
    return prepare_face(crop, face, source.image, source.face.landmarks, region="frame")


@dataclass(frozen=True)
class SyntheticPrep:
    """The fields of a FacePrep that the tier plan feeds to the UNet."""

    target: np.ndarray
    composite: np.ndarray
    mask: np.ndarray
    context: np.ndarray

    @property
    def images(self) -> dict[str, np.ndarray]:
        return fusion_images(self.composite, self.mask, self.context)


def _ellipse_mask(shape_hw: Shape2D, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A feathered ellipse, 1 inside, soft edge; and its x semi-axis in pixels."""
    height, width = shape_hw
    short = min(height, width)
    axis_x = short * rng.uniform(0.2, 0.32)
    axis_y = axis_x * rng.uniform(1.1, 1.35)
    centre = (width * rng.uniform(0.42, 0.58), height * rng.uniform(0.42, 0.58))
    sigma = 0.08 * axis_x
    mask = np.zeros(shape_hw, dtype=np.float32)
    axes = (max(1, int(axis_x - 2.5 * sigma)), max(1, int(axis_y - 2.5 * sigma)))
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), axes, rng.uniform(-20, 20), 0, 360,
                1.0, thickness=-1, lineType=cv2.LINE_AA)
    cv2.GaussianBlur(mask, (0, 0), max(sigma, 0.3), dst=mask)
    return np.clip(mask, 0.0, 1.0), axis_x


def _colour_perturbed(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain = rng.uniform(0.75, 1.25, size=3).astype(np.float32)
    bias = rng.uniform(-25.0, 25.0, size=3).astype(np.float32)
    shift = np.float32([[1, 0, rng.integers(-3, 4)], [0, 1, rng.integers(-3, 4)]])
    moved = cv2.warpAffine(image, shift, image.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
    return np.clip(moved.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)


def synthetic_prep(image: np.ndarray, shape_hw: Shape2D, rng: np.random.Generator) -> SyntheticPrep:
    """A face-like fusion input from a natural image without a face."""
    height, width = image.shape[:2]
    side = min(height, width) * rng.uniform(0.6, 1.0)
    centre = (width * rng.uniform(0.3, 0.7), height * rng.uniform(0.3, 0.7))
    box = _box_around(centre, side, shape_hw, (height, width))
    target, _ = _crop_resized(image, box, shape_hw)
    mask, axis_x = _ellipse_mask(shape_hw, rng)
    composite = alpha_blend(_colour_perturbed(target, rng), target, mask)
    hole = dilate_mask(mask, max(2, int(round(0.16 * axis_x))))
    return SyntheticPrep(target=target, composite=composite, mask=mask,
                         context=context_image(target, hole))


def tier_feed(prep, tiers: TierTable, spec: ModelSpec, rng: np.random.Generator,
              embedding: np.ndarray | None = None) -> tuple[str, dict[str, np.ndarray]]:
    """(tier name, batch-of-one feed) exactly as ``refine_batch`` builds it for one face."""
    plan = tiers.plan(*prep.target.shape[:2])
    sample = dict(prep.images)
    for tensor in spec.vector_inputs:
        sample[tensor.name] = _vector_input(tensor.channels, embedding, rng)
    return plan.tier.name, spec.feed([sample], [plan])


def _vector_input(channels: int, embedding: np.ndarray | None,
                  rng: np.random.Generator) -> np.ndarray:
    """The source identity embedding, or a random unit vector where there is none."""
    if embedding is None or embedding.size != channels:
        embedding = rng.standard_normal(channels).astype(np.float32)
        embedding /= np.linalg.norm(embedding)
    return embedding
