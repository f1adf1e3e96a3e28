"""Peak memory of the INT8 build and the size of the calibration cache (issue 16, item 4).

Runs, one after the other, each in its own process under ``/usr/bin/time -v``:

1. ``fuse-trt build --precision int8 -o TMP`` on the default weights: maximum resident set
   size, wall time, the progress lines on stderr (one per phase) and the gate's verdict;
2. the same build with each phase's own peak: ``phase()`` wrapped so the kernel's high-water
   mark is reset (``/proc/self/clear_refs``) when a phase starts and read when it ends;
3. ``fuse-trt calibrate -o TMP``: its peak and the bytes of the cached sets.

    python benchmarks/int8_build_memory.py [--markdown-only]

Writes benchmarks/memory/int8_build.json and .md. Targets: peak <= 2 GB, cache <= 100 MB.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "memory" / "int8_build"
CLI = [str(Path(sys.executable).with_name("fuse-trt"))]  # the console script itself

_PER_PHASE = """
import contextlib, sys
import fuse_trt.engine.progress as progress

def status(field):
    with open("/proc/self/status") as lines:
        return next(int(l.split()[1]) for l in lines if l.startswith(field)) // 1024

wrapped = progress.phase

@contextlib.contextmanager
def phase(name):
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    start = status("VmRSS")
    with wrapped(name):
        yield
    print(f"[peak] {name}: start {start} MiB, peak {status('VmHWM')} MiB", file=sys.stderr)

progress.phase = phase
from fuse_trt.cli import main
main(sys.argv[1:])
"""


def timed(command: list[str]) -> dict:
    """Run ``command`` under /usr/bin/time -v: exit code, peak RSS, wall time, stderr lines."""
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    text = done.stderr
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    lines = [line for line in text.splitlines() if not line.startswith("\t")
             and "warn" not in line.lower()]
    shown = ["fuse-trt" if part == CLI[0] else "python -c PER_PHASE" if part == _PER_PHASE
             else part for part in command if part != sys.executable]
    return {"command": " ".join(shown),
            "exit_code": done.returncode, "peak_rss_mib": round(peak_kib / 1024, 1),
            "wall": wall, "stderr": lines, "stdout": done.stdout.strip().splitlines()}


def measure() -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="fuse-trt-int8-memory."))
    try:
        build = timed([*CLI, "build", "--precision", "int8", "-o", str(scratch / "b1")])
        per_phase = timed([sys.executable, "-c", _PER_PHASE, "build", "--precision", "int8",
                           "-o", str(scratch / "b2")])
        calibrate = timed([*CLI, "calibrate", "-o", str(scratch / "cache")])
        cache = {path.name: path.stat().st_size for path in (scratch / "cache").iterdir()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    phases = [line for line in per_phase["stderr"] if line.startswith("[peak]")]
    return {"load_avg_1m": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
            "build": build, "phase_peaks": phases, "calibrate": calibrate,
            "cache_bytes": cache, "cache_mb": round(sum(cache.values()) / 1e6, 1)}


def _hide_temp(text: str) -> str:
    return re.sub(r"/tmp/\S+", "DIR", text)


def markdown(result: dict) -> str:
    build, calibrate = result["build"], result["calibrate"]
    lines = ["# INT8 build: peak memory, phases, calibration cache\n",
             f"{result['cores']} cores, load {result['load_avg_1m']} (shared machine). "
             "Peaks are `/usr/bin/time -v`'s maximum resident set size of the whole process.\n",
             "| command | exit | peak RSS | wall | target |", "|---|---|---|---|---|",
             f"| `{_hide_temp(build['command'])}` | "
             f"{build['exit_code']} | {build['peak_rss_mib']:.0f} MiB | {build['wall']} | "
             "<= 2 GB |",
             f"| `fuse-trt calibrate -o CACHE` | {calibrate['exit_code']} | "
             f"{calibrate['peak_rss_mib']:.0f} MiB | {calibrate['wall']} | cache <= 100 MB: "
             f"{result['cache_mb']} MB |", "",
             "What the build prints on stderr (stdout after it):", "", "```",
             *map(_hide_temp, build["stderr"] + build["stdout"]), "```", "",
             "Per phase (a second build; each phase's high-water mark reset at its start, so "
             "that run's own maximum RSS is not comparable):", "", "```",
             *result["phase_peaks"], "```", "",
             "Cached sets: " + ", ".join(f"`{name}` {size / 1e6:.1f} MB"
                                         for name, size in result["cache_bytes"].items()), ""]
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:] == ["--markdown-only"]:  # re-render the committed JSON
        result = json.loads(OUT.with_suffix(".json").read_text())
        OUT.with_suffix(".md").write_text(markdown(result))
        return
    result = measure()
    OUT.parent.mkdir(exist_ok=True)
    OUT.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    OUT.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
