"""Stream fps of two source trees of fuse-trt, interleaved (A B A B ...) on one machine, so
the ratio between them is not a difference in machine load.

Each tree is laid out as installed (``fuse_trt`` with ``engine``, ``runtime``,
``build_engine`` and ``calibration`` inside it) in a scratch directory put first on
PYTHONPATH, and runs its own ``benchmarks/stream_fps.py``. Export an older commit with
``git archive COMMIT | tar -x -C DIR``.

    python benchmarks/stream_fps_ab.py --before /tmp/old-tree --frames 24 --rounds 2
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("engine", "runtime", "build_engine", "calibration")


def installed_layout(tree: Path, scratch: Path) -> Path:
    """``scratch``/fuse_trt: the tree's package root with its four folders linked inside."""
    root = scratch / "fuse_trt"
    shutil.copytree(tree / "fuse_trt", root, symlinks=True)
    for name in SUBPACKAGES:
        (root / name).symlink_to(tree / name, target_is_directory=True)
    return scratch


def run_tree(tree: Path, layout: Path, out: Path, args: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": str(layout)}
    command = [sys.executable, str(tree / "benchmarks" / "stream_fps.py"), "--frames",
               str(args.frames), "--blend", args.blend, "--out", str(out), "--max-others", "1",
               "--tries", "1"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, env=env, check=True, cwd=layout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stem = "stream_fps" if args.blend == "unet" else f"stream_fps_{args.blend}"
    result = json.loads((out / f"{stem}.json").read_text())
    # CPU seconds of the whole run (start-up included): unlike fps, barely moved by what
    # other processes do, so it compares the trees' work on a shared machine.
    result["cpu_s"] = round((after.ru_utime - before.ru_utime)
                            + (after.ru_stime - before.ru_stime), 2)
    return result


def summary(runs: dict[str, list[dict]], args: argparse.Namespace) -> str:
    lines = [f"# Stream fps, before vs after, interleaved ({args.blend}, CPU)", "",
             f"{args.rounds} rounds of A (before: {args.before_label}) then B (after: "
             f"{args.after_label}), {args.frames} frames per row; "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
             f"Command: `python benchmarks/stream_fps_ab.py --before DIR --after DIR --frames "
             f"{args.frames} --rounds {args.rounds} --blend {args.blend}`", "",
             "| stream | faces | before fps (each round) | after fps (each round) | after / before "
             "(medians) | fuse ms before -> after | other processes' CPU |",
             "|---|---|---|---|---|---|---|"]
    for index, row in enumerate(runs["before"][0]["rows"]):
        before = [run["rows"][index] for run in runs["before"]]
        after = [run["rows"][index] for run in runs["after"]]
        fps_b = [r["sustained_fps"] for r in before]
        fps_a = [r["sustained_fps"] for r in after]
        fuse_b = statistics.median(r["stages"]["fuse"]["mean_ms"] for r in before)
        fuse_a = statistics.median(r["stages"]["fuse"]["mean_ms"] for r in after)
        others = [f"{100 * r['others_cpu_share']:.0f}%" for r in (*before, *after)]
        lines.append(
            f"| {row['width']}x{row['height']} | {row['faces']} "
            f"| {', '.join(f'{v:.2f}' for v in fps_b)} | {', '.join(f'{v:.2f}' for v in fps_a)} "
            f"| {statistics.median(fps_a) / statistics.median(fps_b):.2f} "
            f"| {fuse_b:.0f} -> {fuse_a:.0f} | {' '.join(others)} |")
    cpu = {name: [run["cpu_s"] for run in runs[name]] for name in runs}
    lines += ["", f"CPU seconds of each whole run (4 streams, start-up included; the work is the "
              f"same frames): before {', '.join(f'{v:.1f}' for v in cpu['before'])}, after "
              f"{', '.join(f'{v:.1f}' for v in cpu['after'])}; after / before (medians) "
              f"{statistics.median(cpu['after']) / statistics.median(cpu['before']):.2f}.", "",
              "Rows of one round ran back to back; the last column lists, per run (before "
              "runs first), the share of the CPUs other processes used meanwhile. fps on a "
              "machine shared with other work measures the machine; CPU seconds measure the "
              "code."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the older source tree")
    parser.add_argument("--before-label", default="the older tree")
    parser.add_argument("--after", type=Path, default=REPO,
                        help="the newer source tree (default: this checkout)")
    parser.add_argument("--after-label", default="this tree")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--blend", default="classic", choices=["unet", "classic", "seamless"])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "stream" / "ab")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"before": args.before.resolve(), "after": args.after.resolve()}
        layouts = {name: installed_layout(tree, Path(scratch) / name)
                   for name, tree in trees.items()}
        for round_index in range(args.rounds):
            for name, tree in trees.items():
                out = Path(scratch) / f"{name}{round_index}"
                runs[name].append(run_tree(tree, layouts[name], out, args))
    (args.out / f"stream_fps_ab_{args.blend}.json").write_text(json.dumps(runs, indent=2))
    (args.out / f"stream_fps_ab_{args.blend}.md").write_text(summary(runs, args))
    print(summary(runs, args))


if __name__ == "__main__":
    main()
