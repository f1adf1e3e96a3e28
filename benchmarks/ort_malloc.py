"""glibc's fixed mmap threshold with OrtConfig's defaults (arena on): peak RSS and fuse time.

A process-wide allocator setting can only differ between processes, so every measurement is
its own subprocess, alternating with and without the variable: peak RSS growth of the ORT
session per tier (ort_session_settings.py's measure) and `FaceFusion.fuse` of the 1280x720
frame (fuse_profile.py, total and non-model medians).

    python benchmarks/ort_malloc.py --repeats 2
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIANTS = {"glibc default": {}, "MALLOC_MMAP_THRESHOLD_=65536": {
    "MALLOC_MMAP_THRESHOLD_": "65536"}}
PEAK = ("import sys, json; sys.path.insert(0, {here!r}); "
        "from ort_session_settings import Setting, _peak_child; "
        "print(json.dumps(_peak_child(Setting(), {tier!r})))")


def _run(args: list[str], env: dict) -> str:
    return subprocess.run(args, env={**os.environ, **env}, check=True, capture_output=True,
                          text=True).stdout


def peak(tier: str, env: dict) -> float:
    code = PEAK.format(here=str(HERE), tier=tier)
    return json.loads(_run([sys.executable, "-c", code], env).splitlines()[-1])[
        "peak_rss_growth_mib"]


def fuse(env: dict, rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "profile"
        _run([sys.executable, str(HERE / "fuse_profile.py"), "--rounds", str(rounds),
              "--out", str(out)], env)
        return json.loads(out.with_suffix(".json").read_text())["median_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    load_start = [round(v, 2) for v in os.getloadavg()]
    runs = {name: {"peak": {}, "fuse": []} for name in VARIANTS}
    for tier in ("512", "768", "1024"):
        for name, env in VARIANTS.items():
            runs[name]["peak"][tier] = peak(tier, env)
    for _ in range(args.repeats):
        for name, env in VARIANTS.items():
            runs[name]["fuse"].append(fuse(env, args.rounds))
    report = {"command": f"python benchmarks/ort_malloc.py --repeats {args.repeats} "
                         f"--rounds {args.rounds}",
              "load_start": load_start, "load_end": [round(v, 2) for v in os.getloadavg()],
              "runs": runs}
    (HERE / "cpu" / "ort_malloc.json").write_text(json.dumps(report, indent=2))
    lines = ["# glibc mmap threshold with OrtConfig's defaults (arena on)", "",
             f"- command: `{report['command']}`",
             f"- load average at start {load_start}, at end {report['load_end']} (2 cores "
             "shared with other jobs)", "",
             "| variant | peak 512 MiB | peak 768 MiB | peak 1024 MiB | fuse total ms (runs) "
             "| fuse non-model ms (runs) |", "|---|---|---|---|---|---|"]
    for name, run in runs.items():
        lines.append(f"| {name} | " + " | ".join(f"{run['peak'][t]:.0f}" for t in run["peak"])
                     + " | " + ", ".join(f"{m['total']:.0f}" for m in run["fuse"])
                     + " | " + ", ".join(f"{m['non-model']:.1f}" for m in run["fuse"]) + " |")
    text = "\n".join(lines) + "\n"
    (HERE / "cpu" / "ort_malloc.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
