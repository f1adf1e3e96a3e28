"""Refine batches of prepared faces through a backend, one batch per tier and shape."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from fuse_trt.engine.fusion_input import FacePrep, from_planar, planned_feed
from fuse_trt.engine.tiers import TierPlan, TierTable
from fuse_trt.runtime.protocol import Backend


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
            feeds = [planned_feed(prep, plan) for prep, plan in chunk]
            spec = backend.spec  # its I/O dtypes: the one conversion happens in the stack
            feed = {name: np.stack([f[name] for f in feeds], dtype=spec.tensor(name).dtype)
                    for name in feeds[0]}
            if identity is not None:
                feed["identity"] = np.repeat(identity[None].astype(spec.tensor("identity").dtype),
                                             len(chunk), 0)
            fused = backend.infer(tier, feed)[backend.spec.output_names[0]]
            for (prep, plan), planar in zip(chunk, fused):
                prep.result = plan.undo(from_planar(planar.astype(np.float32, copy=False)))
