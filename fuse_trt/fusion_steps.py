"""The per-face steps of a fusion: prepare the classical composite, refine batches of faces
through the backend tier by tier, paste back."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import cv2
import numpy as np

from fuse_trt.engine.faces import (Face, Region, alpha_blend, colour_transfer_lab,
                                   dilate_mask, face_mask, fusion_region, paste_back,
                                   seamless_clone, similarity_transform, warp_image)
from fuse_trt.engine.tiers import TierPlan, TierTable
from fuse_trt.runtime.protocol import Backend


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


def prepare_face(frame: np.ndarray, face: Face, source: np.ndarray, source_landmarks: np.ndarray,
                 region: str = "face", context: float = 0.6, min_region: int = 0,
                 blend: str = "unet") -> FacePrep:
    height, width = frame.shape[:2]
    if region == "frame":
        box = Region(0, 0, width, height)
    else:
        box = fusion_region(face, (height, width), context=context, min_size=min_region)
    target = box.crop(frame)
    landmarks = box.offset_landmarks(face.landmarks)
    matrix = similarity_transform(source_landmarks, landmarks)
    warped = warp_image(source, matrix, target.shape[:2])
    mask = face_mask(target.shape[:2], landmarks)
    face_size = float(np.linalg.norm(landmarks[0] - landmarks[1])) * 2.5
    band = max(2, int(round(0.08 * face_size)))
    hole = dilate_mask(mask, band)
    support = cv2.GaussianBlur(dilate_mask(mask, 2 * band).astype(np.float32), (0, 0), band / 2)
    context_image = (target * (1.0 - hole[:, :, None])).astype(np.uint8)
    if blend == "seamless":
        composite = seamless_clone(warped, target, mask)
    else:
        composite = alpha_blend(colour_transfer_lab(warped, target, mask), target, mask)
    return FacePrep(region=box, target=target, composite=composite, mask=mask,
                    context=context_image, support=np.clip(support, 0.0, 1.0), result=composite)


def _planned_feed(prep: FacePrep, plan: TierPlan) -> dict[str, np.ndarray]:
    return {"composite": to_planar(plan.apply(prep.composite)),
            "mask": to_planar(plan.apply(prep.mask[:, :, None])),
            "context": to_planar(plan.apply(prep.context))}


def refine_batch(backend: Backend, tiers: TierTable, preps: list[FacePrep],
                 identity: np.ndarray | None = None) -> None:
    """Run the UNet on every face, one batch per (tier, planned shape); sets ``prep.result``.

    Faces whose planned shapes match share a batch, so several faces in a frame cost about
    one pass per tier rather than one per face.
    """
    groups: dict[tuple, list[tuple[FacePrep, TierPlan]]] = defaultdict(list)
    for prep in preps:
        plan = tiers.plan(*prep.target.shape[:2])
        groups[(plan.tier.name, plan.planned_shape)].append((prep, plan))
    for (tier_name, _), members in groups.items():
        tier = tiers.by_name(tier_name)
        for start in range(0, len(members), tier.max_batch):
            chunk = members[start:start + tier.max_batch]
            feeds = [_planned_feed(prep, plan) for prep, plan in chunk]
            feed = {name: np.stack([f[name] for f in feeds]) for name in feeds[0]}
            if identity is not None:
                feed["identity"] = np.repeat(identity[None].astype(np.float32), len(chunk), 0)
            fused = backend.infer(tier, feed)[backend.spec.output_names[0]]
            for (prep, plan), planar in zip(chunk, fused):
                prep.result = plan.undo(from_planar(planar))
