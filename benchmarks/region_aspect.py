"""What shapes face regions have, and what the square face tiers cost them.

Two sources of face boxes: YuNet on the bundled photos (and a six-face grid made from them),
and a sweep over the range the property tests use (frames from 480p to 4K in both
orientations, faces from 3% to 100% of the short side, box aspect from the detections, at
the centre, an edge and a corner). For each box: the region's aspect (long/short) under the
old rule (a square cut to the frame independently per axis) and the new one (kept square,
engine/faces/region.py), and the resolution the square tiers keep (planner scale over the
tier's own rule; 1.0 = nothing lost). Writes benchmarks/memory/region_aspect.{json,md}.

    .venv/bin/python benchmarks/region_aspect.py
"""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "memory"
FRAMES = [(480, 640), (720, 1280), (1080, 1920), (2160, 3840), (512, 512)]


def old_region(box, shape, context=0.6, min_size=511):
    """The rule before issue 12: each axis cut to the frame on its own."""
    x, y, w, h = box
    side = max(int(math.ceil(max(w, h) * (1 + 2 * context))), min_size, 1)
    return min(side, shape[0]), min(side, shape[1])


def measure(box, shape, tiers) -> dict:
    from fuse_trt.engine.faces import Face, fusion_region

    region = fusion_region(Face(tuple(box), np.zeros((5, 2), np.float32), 1.0), shape,
                           min_size=tiers.first_tier_limit)
    old_h, old_w = old_region(box, shape)
    plan = tiers.plan(region.height, region.width)
    short, long = min(region.height, region.width), max(region.height, region.width)
    nominal = plan.tier.short_edge / short if plan.tier.scale_to_short_edge else 1.0
    used = max(plan.scaled_shape) / long
    return {"old_aspect": max(old_h, old_w) / min(old_h, old_w),
            "new_aspect": long / short, "kept_resolution": min(1.0, used / nominal),
            "planned": list(plan.planned_shape), "tier": plan.tier.name}


def detected_boxes() -> list[tuple[tuple, tuple]]:
    import cv2

    from fuse_trt.engine.faces import FaceDetector, load_sample

    photos = [load_sample("astronaut"), load_sample("grace_hopper")]
    cells = [cv2.resize(p, (384, 384)) for p in photos]
    photos.append(np.vstack([np.hstack([cells[0], cells[1], cells[0][:, ::-1]]),
                             np.hstack([cells[1][:, ::-1], cells[0], cells[1]])]))
    detector = FaceDetector()
    return [(face.box, photo.shape[:2]) for photo in photos for face in detector.detect(photo)]


def swept_boxes(box_aspects) -> list[tuple[tuple, tuple]]:
    boxes = []
    for (height, width), portrait in itertools.product(FRAMES, (False, True)):
        shape = (width, height) if portrait else (height, width)
        for fraction, aspect in itertools.product(np.linspace(0.03, 1.0, 25), box_aspects):
            h = fraction * min(shape)
            w = h / aspect
            for cx, cy in ((0.5, 0.5), (w / 2, 0.5), (w / 2, h / 2)):
                x = cx * shape[1] - w / 2 if cx == 0.5 else 0.0
                y = cy * shape[0] - h / 2 if cy == 0.5 else 0.0
                boxes.append(((x, y, w, h), shape))
    return boxes


def summary(rows: list[dict]) -> dict:
    kept = np.array([row["kept_resolution"] for row in rows])
    return {"boxes": len(rows), "old_max_aspect": max(r["old_aspect"] for r in rows),
            "new_max_aspect": max(r["new_aspect"] for r in rows),
            "new_not_square_fraction": float(np.mean([r["new_aspect"] > 1.0 for r in rows])),
            "downscaled_fraction": float(np.mean(kept < 0.999)),
            "worst_kept_resolution": float(kept.min())}


def main() -> None:
    from fuse_trt.engine.tiers import DEFAULT_TIERS

    detected = detected_boxes()
    aspects = sorted({round(box[3] / box[2], 2) for box, _ in detected})
    results = {"detector_box_h_over_w": aspects}
    for name, boxes in (("detected", detected),
                        ("sweep", swept_boxes([min(aspects), max(aspects)]))):
        rows = [measure(box, shape, DEFAULT_TIERS) for box, shape in boxes]
        results[name] = summary(rows)
    OUT.mkdir(exist_ok=True)
    (OUT / "region_aspect.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Face-region aspect and the square face tiers", "",
             "Made by `benchmarks/region_aspect.py`. Aspect = long/short side of the fusion "
             "region; kept resolution = planner scale over the tier rule's (1.0: nothing lost).",
             "", f"YuNet box h/w on the bundled photos: {aspects}", "",
             "| boxes | count | old rule max aspect | new rule max aspect | not square | "
             "downscaled by the square tiers | worst kept resolution |", "|---|---|---|---|---|---|---|"]
    for name in ("detected", "sweep"):
        s = results[name]
        lines.append(f"| {name} | {s['boxes']} | {s['old_max_aspect']:.2f} | "
                     f"{s['new_max_aspect']:.2f} | {100 * s['new_not_square_fraction']:.1f}% | "
                     f"{100 * s['downscaled_fraction']:.1f}% | {s['worst_kept_resolution']:.2f} |")
    (OUT / "region_aspect.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
