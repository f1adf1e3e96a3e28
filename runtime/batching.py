"""Refine batches of prepared faces through a backend, one batch per tier and shape."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from fuse_trt.engine.fusion_input import FacePrep
from fuse_trt.engine.spec import from_planar
from fuse_trt.engine.tiers import TierPlan, TierTable
from fuse_trt.runtime.protocol import Backend


def refine_batch(backend: Backend, tiers: TierTable, preps: list[FacePrep],
                 identity: np.ndarray | None = None) -> None:
    """Run the UNet on every face, one batch per (tier, planned shape); sets ``prep.result``.

    Faces whose planned shapes match share a batch, so several faces in a frame cost about
    one pass per tier rather than one per face. ``identity`` (the source's embedding) feeds
    every vector input of the model.
    """
    spec = backend.spec
    side_inputs = {} if identity is None else {t.name: identity for t in spec.vector_inputs}
    groups: dict[tuple, list[tuple[FacePrep, TierPlan]]] = defaultdict(list)
    for prep in preps:
        plan = tiers.plan(*prep.target.shape[:2])
        groups[(plan.tier.name, plan.planned_shape)].append((prep, plan))
    for (tier_name, _), members in groups.items():
        tier = tiers.by_name(tier_name)
        for start in range(0, len(members), tier.max_batch):
            chunk = members[start:start + tier.max_batch]
            feed = spec.feed([{**prep.images, **side_inputs} for prep, _ in chunk],
                             [plan for _, plan in chunk])
            fused = backend.infer(tier, feed)[spec.output_names[0]]
            for (prep, plan), planar in zip(chunk, fused):
                prep.result = plan.undo(from_planar(planar.astype(np.float32, copy=False)))
