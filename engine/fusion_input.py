"""What the UNet is fed for one target face: the classical composite, the mask and the
context, in the coordinates of the face's fusion region. ``ModelSpec.feed`` fits them to a
tier and batches them; the names of :meth:`FacePrep.images` are the fusion specs' inputs."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fuse_trt.engine.choices import Composite, Region as RegionChoice
from fuse_trt.engine.faces.composite import row_strips
from fuse_trt.engine.faces.mask import dilate_masks
from fuse_trt.engine.faces import (Face, Region, alpha_blend, colour_transfer_lab,
                                   dilate_mask, face_mask, fusion_region, gaussian_blur,
                                   paste_into,
                                   seamless_clone, similarity_transform, warp_image)


def context_image(target: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``target`` (uint8) with ``hole`` (float HxW, 1 = removed) zeroed: the UNet's context."""
    context = np.array(target, dtype=np.uint8, copy=True)  # where hole is 0
    x, y, w, h = cv2.boundingRect((hole != 0).view(np.uint8))
    for strip in row_strips(slice(y, y + h), slice(x, x + w)):
        part = hole[strip]
        removed = part == 1.0
        if np.count_nonzero(removed) + np.count_nonzero(part == 0.0) == part.size:  # binary
            context[strip][removed] = 0
        else:
            context[strip] = (target[strip] * (1.0 - part[:, :, None])).astype(np.uint8)
    return context


def fusion_images(composite: np.ndarray, mask: np.ndarray,
                  context: np.ndarray | None) -> dict[str, np.ndarray]:
    """The front end's products by the input names of the fusion specs."""
    images = {"composite": composite, "mask": mask}
    if context is not None:
        images["context"] = context
    return images


@dataclass
class FacePrep:
    """One target face made ready for the UNet, in the coordinates of its region."""

    region: Region
    target: np.ndarray  # uint8 RGB crop of the frame
    composite: np.ndarray  # colour-matched source face alpha-blended onto ``target``
    mask: np.ndarray  # float32 soft face mask
    context: np.ndarray | None  # ``target`` with the dilated mask zeroed; None: not needed
    support: np.ndarray  # float32 where the result may differ from ``target``
    result: np.ndarray  # what is pasted back (RGB): the composite until refined
    bgr: bool = False  # the frame is BGR: the result is converted back when pasted

    @property
    def images(self) -> dict[str, np.ndarray]:
        return fusion_images(self.composite, self.mask, self.context)

    def paste_into(self, frame: np.ndarray, ratio: float) -> None:
        """Blend the result into ``frame`` (modified in place) by ``ratio`` x support."""
        result = cv2.cvtColor(self.result, cv2.COLOR_RGB2BGR) if self.bgr else self.result
        alpha = self.support if ratio == 1.0 else ratio * self.support
        paste_into(frame, self.region, result, alpha)


@dataclass(frozen=True)
class ClassicalInputs:
    """The classical front end's output for one face: what the UNet is fed (training builds
    its pairs with the same function, so the shipped weights see exactly this)."""

    composite: np.ndarray  # uint8: colour-matched source alpha-blended onto the target
    mask: np.ndarray  # float32 soft face mask
    context: np.ndarray | None  # uint8 target with the dilated mask zeroed (None: not made)
    hole: np.ndarray | None  # float32 the dilated mask (feather band included)
    support: np.ndarray  # float32 where the result may differ from the target

    @property
    def images(self) -> dict[str, np.ndarray]:
        return fusion_images(self.composite, self.mask, self.context)


def face_size(landmarks: np.ndarray) -> float:
    """A face's size in pixels from its landmarks: 2.5 eye distances."""
    return float(np.linalg.norm(landmarks[0] - landmarks[1])) * 2.5


def classical_inputs(warped: np.ndarray, target: np.ndarray, landmarks: np.ndarray,
                     composite: Composite = Composite.COLOUR,
                     with_context: bool = True) -> ClassicalInputs:
    """Mask, composite, support and (``with_context``: only the UNet reads them) hole and
    context for a source face already warped onto ``target``."""
    mask = face_mask(target.shape[:2], landmarks)
    band = max(2, int(round(0.08 * face_size(landmarks))))
    hole, wide = dilate_masks(mask, (band, 2 * band)) if with_context else \
        (None, dilate_mask(mask, 2 * band))
    support = gaussian_blur(wide, band / 2)
    context = context_image(target, hole) if with_context else None
    if composite == Composite.SEAMLESS:
        blended = seamless_clone(warped, target, mask)
    else:
        blended = alpha_blend(colour_transfer_lab(warped, target, mask), target, mask)
    return ClassicalInputs(composite=blended, mask=mask, context=context, hole=hole,
                           support=np.clip(support, 0.0, 1.0, out=support))


def prepare_face(frame: np.ndarray, face: Face, source: np.ndarray, source_landmarks: np.ndarray,
                 region: RegionChoice = RegionChoice.FACE, context: float = 0.6,
                 min_region: int = 0, composite: Composite = Composite.COLOUR,
                 with_context: bool = True, bgr: bool = False) -> FacePrep:
    """The front end for one face of ``frame`` (RGB, or BGR with ``bgr``; ``source`` is RGB).
    Only the region is converted to RGB; ``with_context``: make the context the UNet reads."""
    height, width = frame.shape[:2]
    if region == RegionChoice.FRAME:
        box = Region(0, 0, width, height)
    else:
        box = fusion_region(face, (height, width), context=context, min_size=min_region)
    target = box.crop(frame)
    if bgr:
        target = cv2.cvtColor(target, cv2.COLOR_BGR2RGB)
    landmarks = box.offset_landmarks(face.landmarks)
    matrix = similarity_transform(source_landmarks, landmarks)
    warped = warp_image(source, matrix, target.shape[:2])
    inputs = classical_inputs(warped, target, landmarks, composite, with_context)
    return FacePrep(region=box, target=target, composite=inputs.composite, mask=inputs.mask,
                    context=inputs.context, support=inputs.support, result=inputs.composite,
                    bgr=bgr)
