"""`make mutation`: mutate the engine's core module by module, run each module's tests, report.

    python benchmarks/mutation/run.py                      # every target, the committed budget
    python benchmarks/mutation/run.py --only tiers paste   # some targets
    python benchmarks/mutation/run.py --max-mutants 0      # no sampling: every mutant

The heavy libraries are imported once here and every test run is a fork of this process, so
a mutant costs its tests' run time, not an interpreter start. Modules with more mutants than
their budget are sampled (seeded, so a rerun draws the same mutants); the report says so.
Survivors listed in equivalent.json (keyed by module, source line and change, not line
number) are reported as equivalent and left out of the score.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from driver import Mutant, enumerate_mutants, run_tests_forked  # noqa: E402


@dataclass(frozen=True)
class Target:
    name: str
    path: str  # file in the repository
    module: str  # the import name the tests use
    tests: tuple[str, ...]  # pytest arguments: files, node ids, -k expressions
    budget: int = 0  # most mutants run; 0: all


TARGETS = (
    Target("tiers", "engine/tiers.py", "fuse_trt.engine.tiers", ("tests/engine/test_tiers.py",),
           budget=60),
    Target("align", "engine/faces/align.py", "fuse_trt.engine.faces.align",
           ("tests/engine/faces/test_align.py",)),
    Target("mask", "engine/faces/mask.py", "fuse_trt.engine.faces.mask",
           ("tests/engine/faces/test_mask.py",)),
    Target("composite", "engine/faces/composite.py", "fuse_trt.engine.faces.composite",
           ("tests/engine/faces/test_composite.py",)),
    Target("region", "engine/faces/region.py", "fuse_trt.engine.faces.region",
           ("tests/engine/faces/test_region.py", "tests/engine/faces/test_paste.py")),
    Target("paste", "engine/faces/paste.py", "fuse_trt.engine.faces.paste",
           ("tests/engine/faces/test_paste.py",)),
    Target("images", "engine/images.py", "fuse_trt.engine.images",
           ("tests/engine/test_images.py",)),
    Target("spec", "engine/spec.py", "fuse_trt.engine.spec",
           ("tests/engine/test_spec.py", "tests/runtime/test_onnxruntime_backend.py",
            "tests/runtime/test_backend_contract.py"), budget=40),
    Target("fusion_input", "engine/fusion_input.py", "fuse_trt.engine.fusion_input",
           ("tests/engine/test_fusion_input.py", "tests/engine/faces/test_composite.py",
            "tests/test_api.py"), budget=25),
    Target("batching", "runtime/batching.py", "fuse_trt.runtime.batching",
           ("tests/test_api.py",)),
    Target("protocol", "runtime/protocol.py", "fuse_trt.runtime.protocol",
           ("tests/runtime/test_protocol.py", "tests/runtime/test_backend_contract.py"),
           budget=30),
    Target("onnxruntime_backend", "runtime/onnxruntime_backend.py",
           "fuse_trt.runtime.onnxruntime_backend",
           ("tests/runtime/test_onnxruntime_backend.py", "tests/runtime/test_backend_contract.py")),
    Target("torch_backend", "runtime/torch_backend.py", "fuse_trt.runtime.torch_backend",
           ("tests/runtime/test_torch_backend.py", "tests/runtime/test_backend_contract.py")),
    Target("select", "runtime/select.py", "fuse_trt.runtime.select",
           ("tests/runtime/test_select.py", "tests/runtime/test_backend_contract.py",
            "tests/test_build_tensorrt_bundle.py"), budget=30),
    Target("tensorrt_backend", "runtime/tensorrt_backend.py", "fuse_trt.runtime.tensorrt_backend",
           ("tests/runtime/tensorrt/test_tensorrt_backend.py",
            "tests/runtime/tensorrt/test_plan_checks.py"), budget=40),
    Target("plan_sidecar", "runtime/plan_sidecar.py", "fuse_trt.runtime.plan_sidecar",
           ("tests/runtime/tensorrt/test_plan_sidecar.py",
            "tests/runtime/tensorrt/test_plan_checks.py")),
    Target("validate", "build_engine/validate.py", "fuse_trt.build_engine.validate",
           ("tests/build_engine/test_validate.py", "tests/build_engine/test_export.py",
            "-k", "validat")),
    Target("gate", "calibration/gate.py", "fuse_trt.calibration.gate",
           ("tests/calibration/test_gate.py",)),
)


def preload() -> None:
    """Import what every test run needs once, before forking (not fuse_trt itself)."""
    import cv2  # noqa: F401
    import hypothesis  # noqa: F401
    import numpy  # noqa: F401
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
    import pytest  # noqa: F401
    import torch  # noqa: F401


NOTES_MARKER = "<!-- notes: written by hand, kept when the report is regenerated -->"


def load_equivalents() -> dict[tuple[str, str, str], str]:
    path = Path(__file__).with_name("equivalent.json")
    entries = json.loads(path.read_text()) if path.exists() else []
    return {(e["module"], e["line"], e["column"], e["change"]): e["why"] for e in entries}


def choose(mutants: list[Mutant], budget: int, seed: int) -> list[Mutant]:
    if not budget or len(mutants) <= budget:
        return mutants
    return sorted(random.Random(seed).sample(mutants, budget), key=lambda m: m.index)


def run_target(target: Target, budget: int | None, seed: int, root: Path) -> dict:
    path = root / target.path
    tests = [t for t in target.tests if ".py" not in t or (root / t.split("::")[0]).exists()]
    if not any(".py" in t for t in tests):
        raise SystemExit(f"{target.name}: none of its test files exist under {root}")
    baseline, seconds = run_tests_forked(tests, None, None, None, 900, root)
    if baseline != "survived":
        raise SystemExit(f"{target.name}: the tests fail on the unmutated code ({baseline})")
    timeout = 10 * seconds + 60  # generous: on a shared machine a slow run is not a hang
    everything = enumerate_mutants(path)
    chosen = choose(everything, target.budget if budget is None else budget, seed)
    equivalents = load_equivalents()
    results = []
    for mutant in chosen:
        outcome, elapsed = run_tests_forked(tests, target.module, path, mutant.index, timeout, root)
        why = equivalents.get((target.name, mutant.source_line, mutant.column, mutant.description))
        if outcome == "survived" and why:
            outcome = "equivalent"
        results.append({"index": mutant.index, "line": mutant.line, "column": mutant.column,
                        "source": mutant.source_line,
                        "change": mutant.description, "outcome": outcome, "why": why,
                        "seconds": round(elapsed, 2)})
        print(f"  {target.name}:{mutant.line} {mutant.description}: {outcome}", flush=True)
    return {"module": target.name, "path": target.path, "tests": tests,
            "mutants_total": len(everything), "mutants_run": len(chosen),
            "baseline_seconds": round(seconds, 1), "results": results}


def score(entry: dict) -> tuple[int, int, float]:
    outcomes = [r["outcome"] for r in entry["results"]]
    killed = sum(o in ("killed", "timeout") for o in outcomes)
    counted = len(outcomes) - outcomes.count("equivalent")
    return killed, counted, (100.0 * killed / counted) if counted else 100.0


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def in_target_order(entries) -> list[dict]:
    """The entries of current targets (a dropped target's old entry is left out), in order."""
    order = [t.name for t in TARGETS]
    return sorted((e for e in entries if e["module"] in order),
                  key=lambda e: order.index(e["module"]))


def write_report(entries: list[dict], out: Path) -> None:
    """docs/mutation.json (every entry) and the markdown report; notes after the marker kept."""
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out.with_suffix(".json"), json.dumps(entries, indent=1) + "\n")
    commands = sorted({e.get("command", "(not recorded)") for e in entries})
    wall = sum(e.get("wall_seconds", 0.0) for e in entries)
    lines = ["# Mutation testing report", "",
             f"Generated by benchmarks/mutation/run.py: {', '.join(f'`{c}`' for c in commands)}. "
             f"Time (sum of the targets' wall time): {wall / 60:.1f} min.",
             "Score = killed / (run - equivalent); a timeout (10x the unmutated run + 60 s) "
             "counts as killed and is also counted in its own column. "
             "A module whose *run* is below its *mutants* ran a seeded sample of them (sampled).",
             "", "| module | mutants | run | killed | of which timeout | survived | equivalent "
             "| score | minutes | tests |", "|---|---|---|---|---|---|---|---|---|---|"]
    for entry in entries:
        killed, counted, percent = score(entry)
        outcomes = [r["outcome"] for r in entry["results"]]
        sampled = " (sampled)" if entry["mutants_run"] < entry["mutants_total"] else ""
        minutes = f"{entry['wall_seconds'] / 60:.1f}" if "wall_seconds" in entry else "?"
        source = REPO / entry["path"]
        if source.exists() and entry.get("source_sha256") != source_digest(source):
            sampled += " (source changed since this run)"
        lines.append(f"| {entry['module']} (`{entry['path']}`) | {entry['mutants_total']} | "
                     f"{entry['mutants_run']}{sampled} | {killed} | {outcomes.count('timeout')} | "
                     f"{outcomes.count('survived')} | "
                     f"{outcomes.count('equivalent')} | {percent:.0f}% | {minutes} | "
                     f"{', '.join(f'`{t}`' for t in entry['tests'])} |")
    lines += ["", "## Surviving mutants", ""]
    for entry in entries:
        for r in entry["results"]:
            if r["outcome"] == "survived":
                lines.append(f"- {entry['path']}:{r['line']}:{r.get('column', '?')} `{r['change']}` "
                             f"in `{r['source']}`")
    lines += ["", "## Equivalent mutants (no observable behaviour changes)", ""]
    for entry in entries:
        for r in entry["results"]:
            if r["outcome"] == "equivalent":
                lines.append(f"- {entry['path']}:{r['line']}:{r.get('column', '?')} `{r['change']}` "
                             f"in `{r['source']}`: {r['why']}")
    notes = ""
    if out.exists() and NOTES_MARKER in out.read_text():
        notes = out.read_text().split(NOTES_MARKER, 1)[1]
    write_atomically(out, "\n".join(lines) + "\n\n" + NOTES_MARKER + notes.rstrip("\n") + "\n")


def write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="target names, run in this order (default: all)")
    parser.add_argument("--max-mutants", type=int, default=None,
                        help="override every target's budget (0: all mutants)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "mutation.md")
    parser.add_argument("--root", type=Path, default=REPO,
                        help="checkout to mutate and test (default: this one)")
    parser.add_argument("--from-json", nargs="*", type=Path,
                        help="write the report from earlier runs' json (later files win per module)")
    args = parser.parse_args()
    if args.from_json:
        merged = {}
        for path in args.from_json:
            merged.update({entry["module"]: entry for entry in json.loads(path.read_text())})
        equivalents = load_equivalents()
        for entry in merged.values():  # survivors explained since the run was made
            for r in entry["results"]:
                why = equivalents.get((entry["module"], r["source"], r.get("column"), r["change"]))
                if r["outcome"] == "survived" and why:
                    r["outcome"], r["why"] = "equivalent", why
        write_report(in_target_order(merged.values()), args.out)
        return
    by_name = {t.name: t for t in TARGETS}
    unknown = set(args.only or ()) - set(by_name)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; have {sorted(by_name)}")
    targets = [by_name[name] for name in args.only] if args.only else list(TARGETS)
    preload()
    command = " ".join(["python", *sys.argv])
    json_path = args.out.with_suffix(".json")
    # Targets not run now keep their earlier entry: `--only` runs add to the report.
    merged = {entry["module"]: entry for entry in json.loads(json_path.read_text())} \
        if json_path.exists() else {}
    entries = []
    for target in targets:
        print(f"{target.name}: {target.path}", flush=True)
        start = time.monotonic()
        entry = run_target(target, args.max_mutants, args.seed, args.root.resolve())
        entry["wall_seconds"] = round(time.monotonic() - start, 1)
        entry["source_sha256"] = source_digest(args.root.resolve() / target.path)
        entry["command"] = command
        entries.append(entry)
        merged[entry["module"]] = entry
        write_report(in_target_order(merged.values()), args.out)
    for entry in entries:
        killed, counted, percent = score(entry)
        print(f"{entry['module']:22s} {killed:4d}/{counted:<4d} {percent:5.1f}%")


if __name__ == "__main__":
    main()
