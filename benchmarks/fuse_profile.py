"""Where `FaceFusion.fuse` spends its time: one 1280x720 frame, one face, default settings.

The real ``fuse`` runs; the functions it calls for each stage are wrapped with timers for the
duration of the run (nothing else changes), so the stages add up to the measured call and
"other" is what no stage accounts for (locks, policy, the output frame copy...):

- detect: ``FaceDetector.detect``
- align: fusion region, crop, similarity transform, source warp
- composite: ``classical_inputs`` (mask, colour transfer + blend, context, support)
- plan: ``ModelSpec.feed`` (tier plan resize/pad, batching to planar float32)
- infer: ``backend.infer``
- unplan: ``from_planar`` + ``TierPlan.undo``
- paste: ``FacePrep.paste_into``

    python benchmarks/fuse_profile.py --rounds 20 --out benchmarks/cpu/fuse_profile.after
    python benchmarks/fuse_profile.py --save /tmp/fused.npy       # keep the fused frame
    python benchmarks/fuse_profile.py --compare /tmp/fused.npy    # pixel diff against it
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

from fuse_trt.api import FaceFusion, FusionConfig
from fuse_trt.engine import fusion_input
from fuse_trt.engine.faces import load_sample
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierPlan
from fuse_trt.runtime import batching

STAGES = ("detect", "align", "composite", "plan", "infer", "unplan", "paste")
WRAPPED = {  # (owner, attribute) -> stage
    "align": [(fusion_input, "fusion_region"), (fusion_input, "similarity_transform"),
              (fusion_input, "warp_image")],
    "composite": [(fusion_input, "classical_inputs")],
    "plan": [(ModelSpec, "feed")],
    "unplan": [(batching, "from_planar"), (TierPlan, "undo")],
    "paste": [(fusion_input.FacePrep, "paste_into")],
}


def stream_frame(width: int = 1280, height: int = 720) -> np.ndarray:
    """The stream benchmark's 1280x720 frame: the target photo scaled to the frame height
    on a grey canvas (one face)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stream_fps import frame

    return frame(load_sample("astronaut"), (width, height), 1, 20)


@contextmanager
def _timed(owner, name: str, sink: list[float]):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            sink.append(time.perf_counter() - start)

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def profile(fusion: FaceFusion, frame: np.ndarray, rounds: int) -> tuple[dict, np.ndarray]:
    per_round: dict[str, list[float]] = defaultdict(list)
    output = None
    for index in range(rounds + 1):  # the first round warms up and is not counted
        sinks: dict[str, list[float]] = {stage: [] for stage in STAGES}
        with ExitStack() as stack:
            stack.enter_context(_timed(fusion.detector, "detect", sinks["detect"]))
            stack.enter_context(_timed(fusion.backend, "infer", sinks["infer"]))
            for stage, targets in WRAPPED.items():
                for owner, name in targets:
                    stack.enter_context(_timed(owner, name, sinks[stage]))
            start = time.perf_counter()
            output = fusion.fuse(frame)
            total = time.perf_counter() - start
        if index == 0:
            continue
        for stage in STAGES:
            per_round[stage].append(sum(sinks[stage]) * 1000)
        per_round["other"].append(total * 1000 - sum(per_round[s][-1] for s in STAGES))
        per_round["total"].append(total * 1000)
        per_round["non-model"].append(per_round["total"][-1] - per_round["infer"][-1])
    return {stage: float(np.median(values)) for stage, values in per_round.items()}, output


def _markdown(report: dict) -> str:
    ms = report["median_ms"]
    lines = ["# FaceFusion.fuse per stage", "",
             f"- command: `{report['command']}`",
             f"- frame {report['frame']}, {report['faces']} face, tier {report['tier']}, "
             f"backend {report['backend']}, {report['rounds']} rounds (medians; stages are "
             "medians of their own, so they need not sum exactly to the total)",
             f"- load average at start {report['load_start']}, at end {report['load_end']} "
             f"({report['cpu_count']} cores shared with other jobs)", "",
             "| stage | median ms | share |", "|---|---|---|"]
    for stage in (*STAGES, "other", "total", "non-model"):
        lines.append(f"| {stage} | {ms[stage]:.1f} | {ms[stage] / ms['total']:.0%} |")
    lines += ["", "non-model: total - infer, per round."]
    if "compare" in report:
        lines.append(f"Against {report['compare']['file']}: max |diff| "
                     f"{report['compare']['max_abs_diff']}, pixels that differ "
                     f"{report['compare']['pixels_differ']}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", default=None, help="write OUT.json and OUT.md")
    parser.add_argument("--save", default=None, help="save the fused frame (.npy)")
    parser.add_argument("--compare", default=None, help="diff the fused frame against a .npy")
    args = parser.parse_args()
    load_start = [round(v, 2) for v in os.getloadavg()]
    frame = stream_frame()
    with FaceFusion(FusionConfig()) as fusion:
        fusion.set_source(load_sample("grace_hopper"))
        faces = fusion.detector.detect(frame)
        medians, output = profile(fusion, frame, args.rounds)
        region = fusion_input.fusion_region(faces[0], frame.shape[:2],
                                            context=fusion.config.context,
                                            min_size=fusion.bundle.tiers.first_tier_limit)
        tier = fusion.bundle.tiers.plan(region.height, region.width).tier.name
        backend = fusion.selection.describe()
    command = "python benchmarks/fuse_profile.py " + " ".join(
        f"--{k} {v}" for k, v in vars(args).items() if v is not None)
    report = {"command": command, "frame": f"{frame.shape[1]}x{frame.shape[0]}",
              "faces": len(faces), "tier": tier, "region_hw": [region.height, region.width],
              "backend": backend, "rounds": args.rounds, "median_ms": medians,
              "load_start": load_start, "load_end": [round(v, 2) for v in os.getloadavg()],
              "cpu_count": os.cpu_count()}
    if args.save:
        np.save(args.save, output)
    if args.compare:
        previous = np.load(args.compare)
        diff = np.abs(previous.astype(np.int16) - output.astype(np.int16))
        report["compare"] = {"file": args.compare, "max_abs_diff": int(diff.max()),
                             "pixels_differ": int((diff.max(axis=2) > 0).sum())}
    text = _markdown(report)
    print(text)
    if args.out:
        Path(args.out + ".json").write_text(json.dumps(report, indent=2))
        Path(args.out + ".md").write_text(text)


if __name__ == "__main__":
    main()
