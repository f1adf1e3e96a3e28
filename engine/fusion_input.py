"""What the UNet is fed for one target face: the classical composite, the mask and the
context, in the coordinates of the face's fusion region, and how they are fitted to a tier."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fuse_trt.engine.choices import Composite, Region as RegionChoice
from fuse_trt.engine.faces import (Face, Region, alpha_blend, colour_transfer_lab,
                                   dilate_mask, face_mask, fusion_region, paste_back,
                                   seamless_clone, similarity_transform, warp_image)
from fuse_trt.engine.tiers import TierPlan


@dataclass
class FacePrep:
    """One target face made ready for the UNet, in the coordinates of its region."""

    region: Region
    target: np.ndarray  # uint8 RGB crop of the frame
    composite: np.ndarray  # colour-matched source face alpha-blended onto ``target``
    mask: np.ndarray  # float32 soft face mask
    context: np.ndarray  # ``target`` with the dilated mask zeroed
    support: np.ndarray  # float32 where the result may differ from ``target``
    result: np.ndarray  # what is pasted back: the composite until refined

    def paste(self, frame: np.ndarray, ratio: float) -> np.ndarray:
        return paste_back(frame, self.region, self.result, ratio * self.support)


def to_planar(image: np.ndarray) -> np.ndarray:
    """HxW[xC] uint8 or float -> CxHxW float32 in 0..1."""
    array = image.astype(np.float32)
    if image.dtype == np.uint8:
        array *= 1.0 / 255.0
    if array.ndim == 2:
        array = array[:, :, None]
    return array.transpose(2, 0, 1)


def from_planar(planar: np.ndarray) -> np.ndarray:
    """CxHxW float 0..1 -> HxWxC uint8."""
    return (np.clip(planar.transpose(1, 2, 0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@dataclass(frozen=True)
class ClassicalInputs:
    """The classical front end's output for one face: what the UNet is fed (training builds
    its pairs with the same function, so the shipped weights see exactly this)."""

    composite: np.ndarray  # uint8: colour-matched source alpha-blended onto the target
    mask: np.ndarray  # float32 soft face mask
    context: np.ndarray  # uint8 target with the dilated mask zeroed
    hole: np.ndarray  # float32 the dilated mask (feather band included)
    support: np.ndarray  # float32 where the result may differ from the target


def face_size(landmarks: np.ndarray) -> float:
    """A face's size in pixels from its landmarks: 2.5 eye distances."""
    return float(np.linalg.norm(landmarks[0] - landmarks[1])) * 2.5


def classical_inputs(warped: np.ndarray, target: np.ndarray, landmarks: np.ndarray,
                     composite: Composite = Composite.COLOUR) -> ClassicalInputs:
    """Mask, hole, composite and context for a source face already warped onto ``target``."""
    mask = face_mask(target.shape[:2], landmarks)
    band = max(2, int(round(0.08 * face_size(landmarks))))
    hole = dilate_mask(mask, band)
    support = cv2.GaussianBlur(dilate_mask(mask, 2 * band), (0, 0), band / 2)
    context = (target * (1.0 - hole[:, :, None])).astype(np.uint8)
    if composite == Composite.SEAMLESS:
        blended = seamless_clone(warped, target, mask)
    else:
        blended = alpha_blend(colour_transfer_lab(warped, target, mask), target, mask)
    return ClassicalInputs(composite=blended, mask=mask, context=context, hole=hole,
                           support=np.clip(support, 0.0, 1.0))


def prepare_face(frame: np.ndarray, face: Face, source: np.ndarray, source_landmarks: np.ndarray,
                 region: RegionChoice = RegionChoice.FACE, context: float = 0.6,
                 min_region: int = 0, composite: Composite = Composite.COLOUR) -> FacePrep:
    height, width = frame.shape[:2]
    if region == RegionChoice.FRAME:
        box = Region(0, 0, width, height)
    else:
        box = fusion_region(face, (height, width), context=context, min_size=min_region)
    target = box.crop(frame)
    landmarks = box.offset_landmarks(face.landmarks)
    matrix = similarity_transform(source_landmarks, landmarks)
    warped = warp_image(source, matrix, target.shape[:2])
    inputs = classical_inputs(warped, target, landmarks, composite)
    return FacePrep(region=box, target=target, composite=inputs.composite, mask=inputs.mask,
                    context=inputs.context, support=inputs.support, result=inputs.composite)


def planned_feed(prep: FacePrep, plan: TierPlan) -> dict[str, np.ndarray]:
    """The FUSION_SPEC image inputs of one face, fitted to its tier, [C, H, W] each."""
    return {"composite": to_planar(plan.apply(prep.composite)),
            "mask": to_planar(plan.apply(prep.mask[:, :, None])),
            "context": to_planar(plan.apply(prep.context))}
