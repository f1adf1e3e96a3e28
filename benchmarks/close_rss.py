"""Issue 16 point 9: resident memory before and after ``FaceFusion.close()``.

One fresh process (spawned) per case: import fuse_trt, open the default FaceFusion (ONNX Runtime
FP32), fuse the grace_hopper sample at three sizes (one per tier: 512, 768, 1024), close.
RSS (/proc/self/status VmRSS) is read after each step. ``trim`` is close() as shipped (the
backend closed, then glibc's malloc_trim, fuse_trt/heap.py); ``no trim`` is the same with
trim_heap replaced by a no-op, i.e. close() before this change. Cases alternate, RUNS each.

Run: `nice -n 10 .venv/bin/python benchmarks/close_rss.py` (writes benchmarks/close_rss.json
and .md next to this file).
"""
from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

RUNS = 3
SIZES = (512, 900, 1400)  # widths: the 512, 768 and 1024 tiers
STEPS = ("import", "prepared", "fused", "closed")


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def one_case(trim: bool, queue) -> None:
    import cv2

    import fuse_trt.heap
    from fuse_trt.api import FaceFusion, FusionConfig
    from fuse_trt.engine.faces import load_sample

    if not trim:
        fuse_trt.heap.trim_heap = lambda: False
    rss = {"import": rss_mib()}
    fusion = FaceFusion(FusionConfig()).prepare()
    fusion.set_source(load_sample("astronaut"))
    rss["prepared"] = rss_mib()
    photo = load_sample("grace_hopper")
    for width in SIZES:
        fusion.fuse(cv2.resize(photo, (width, width * photo.shape[0] // photo.shape[1])))
    rss["fused"] = rss_mib()
    fusion.close()
    rss["closed"] = rss_mib()
    queue.put(rss)


def run(trim: bool) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=one_case, args=(trim, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    import logging

    logging.getLogger("fuse_trt").setLevel(logging.ERROR)
    load = os.getloadavg()
    cases = {"trim": [], "no trim": []}
    for _ in range(RUNS):
        for name in cases:
            cases[name].append(run(name == "trim"))
    report = {"command": "nice -n 10 .venv/bin/python benchmarks/close_rss.py",
              "loadavg_before": load, "runs": RUNS, "sizes": SIZES, "cases": cases}
    out = Path(__file__).with_suffix("")
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["# RSS before and after FaceFusion.close()", "",
             f"Command: `{report['command']}`; load average before "
             f"{', '.join(f'{v:.2f}' for v in load)}. Default FaceFusion (ONNX Runtime FP32), "
             f"grace_hopper fused at widths {', '.join(map(str, SIZES))}; one fresh process per "
             f"run, {RUNS} runs per case alternating. MiB, VmRSS after each step (min-max over "
             "runs).", "",
             "| case | " + " | ".join(STEPS) + " | freed by close() |",
             "|---|" + "---|" * (len(STEPS) + 1)]
    for name, runs in cases.items():
        cells = [f"{min(r[s] for r in runs):.0f}-{max(r[s] for r in runs):.0f}" for s in STEPS]
        freed = [r["fused"] - r["closed"] for r in runs]
        lines.append(f"| {name} | " + " | ".join(cells)
                     + f" | {min(freed):.0f}-{max(freed):.0f} |")
    lines.append("")
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
