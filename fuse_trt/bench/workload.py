"""What the benchmark feeds: a model input per tier, and a sample photo sized for each tier.

The end-to-end fusion runs with ``region="frame"`` on a square crop of the bundled target
photo, resized so the whole frame lands in the tier at exactly the tier's short edge: the
UNet then sees the same (H, W) as the model-only measurement, and detect + align + composite
+ paste are timed around it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from fuse_trt.engine.errors import NoFaceError
from fuse_trt.engine.faces import Face, FaceDetector, load_sample
from fuse_trt.engine.tiers import TierSpec, TierTable

log = logging.getLogger("fuse_trt")


def frame_edge_for_tier(tiers: TierTable, tier: TierSpec) -> int:
    """Side of a square frame that the planner puts in ``tier`` at (short edge, short edge).

    A padding tier takes frames below its edge (the planner pads them up), a scaling tier
    takes its own edge, so the candidates are the edge and the stride's worth below it.
    """
    for side in range(tier.short_edge, max(tier.short_edge - tiers.stride, 0), -1):
        plan = tiers.plan(side, side)
        if plan.tier == tier and plan.planned_shape == (tier.short_edge, tier.short_edge):
            return side
    return max(tier.accepts_from, 1)


def square_crop(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return np.ascontiguousarray(image[top:top + side, left:left + side])


def _scaled_face(face: Face, scale: float) -> Face:
    box = tuple(float(v) * scale for v in face.box)
    return Face(box, (face.landmarks * np.float32(scale)).astype(np.float32), face.score)


@dataclass(frozen=True)
class TierFrame:
    """A target frame for one tier; ``faces`` is set when detection fails at this size."""

    tier: TierSpec
    frame: np.ndarray
    faces: list[Face] | None

    @property
    def detected(self) -> bool:
        return self.faces is None


def tier_frames(tiers: TierTable, tier_names: list[str], target_sample: str = "astronaut",
                detector: FaceDetector | None = None) -> dict[str, TierFrame]:
    """One square target frame per tier; detection is part of the timed fusion where it works.

    Where YuNet finds no face at a (tiny) test size, the full-size detection scaled to the
    frame is handed to ``fuse`` instead and the frame says so (``detected`` is False).
    """
    detector = detector or FaceDetector()
    target = square_crop(load_sample(target_sample))
    reference = detector.detect(target)
    frames = {}
    for name in tier_names:
        tier = tiers.by_name(name)
        side = frame_edge_for_tier(tiers, tier)
        interpolation = cv2.INTER_AREA if side < target.shape[0] else cv2.INTER_CUBIC
        frame = cv2.resize(target, (side, side), interpolation=interpolation)
        faces = None
        if not detector.detect(frame):
            if not reference:
                raise NoFaceError(f"no face found in the sample {target_sample!r}")
            log.info("no face detected at %dx%d; the fusion gets the scaled detection", side, side)
            faces = [_scaled_face(reference[0], side / target.shape[0])]
        frames[name] = TierFrame(tier=tier, frame=frame, faces=faces)
    return frames
