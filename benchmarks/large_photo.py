"""Issue 16 point 5: `fuse-trt fuse` on an 8000x8000 photo with one face, against a 5 s target.

The photo is generated: a textured background (smooth gradients plus noise, so the JPEG is
a photo-sized file, not a flat one) with the bundled grace_hopper sample scaled up and pasted
in. Two face sizes: ``large`` (the sample scaled x12: the fusion region is 5628 px square,
the kind of photo the issue measured at 55 s) and ``small`` (x2).

Each run is the CLI command itself, `fuse-trt fuse sample:astronaut PHOTO -o OUT.jpg` with the
default options (UNet refinement on ONNX Runtime FP32), run in-process through
``fuse_trt.cli.main`` with timers wrapped around the functions of each stage, in a fresh
process per run (spawned, so a run does not inherit the previous one's warm caches):

  decode     engine.images.read_image (header, EXIF, imdecode, BGR->RGB)
  open       FaceFusion.prepare (bundle, ONNX Runtime session, buffers)
  detect     FaceDetector.detect (resize to 640, YuNet)
  region     crop + BGR/RGB + source warp (prepare_face minus the stages below)
  mask       face_mask, dilate_mask(s), gaussian_blur (soft mask, hole, support)
  composite  colour_transfer_lab, alpha_blend, context_image
  infer      refine_batch (tier plan, feed, backend.infer, undo)
  paste      FacePrep.paste_into
  encode     engine.images.write_image (imencode, temp file + rename)

Each stage counts its own time (mask and composite are taken out of region's). ``total`` is
main()'s wall time, ``other`` what no stage covers (option parsing, face policy, frame copy);
CPU seconds and minor page faults of the run are recorded too, since the machine is shared and
wall time follows its load. ``before`` runs the same command with the engine files of
BASELINE_REVISION (main before this change: blends and colour transfer on the whole box at
once, the pasted window copied twice, dilation over the whole region), interleaved with ``after`` (the working tree); the two
outputs are compared pixel by pixel. The photo is also fused once by `python -m fuse_trt.cli`
as a subprocess for the wall time a user sees (interpreter start and imports included).

Run: `nice -n 10 .venv/bin/python benchmarks/large_photo.py` (writes
benchmarks/large_photo.json and .md next to this file).
"""
from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIDE = 8000
SCALES = {"large": 12, "small": 2}
RUNS = 3
BASELINE_REVISION = "8285e9c"  # main before issue 16 point 5's strip-wise blends
# what a fuse run executes besides CLI glue (memory planning and export are not in it)
CODE_DIRS = ("engine/faces", "engine/fusion_input.py", "engine/images.py", "engine/spec.py",
             "engine/tiers.py", "runtime")
# (module, file) re-executed from the baseline, in import order; the package __init__ and
# fusion_input re-bind what they import from the modules before them
BASELINE = (("fuse_trt.engine.faces.composite", "engine/faces/composite.py"),
            ("fuse_trt.engine.faces.mask", "engine/faces/mask.py"),
            ("fuse_trt.engine.faces.paste", "engine/faces/paste.py"),
            ("fuse_trt.engine.faces", "engine/faces/__init__.py"),
            ("fuse_trt.engine.fusion_input", "engine/fusion_input.py"),
            ("fuse_trt.engine.images", "engine/images.py"))
STAGES = ("decode", "open", "detect", "region", "mask", "composite", "infer", "paste", "encode")


def make_photo(path: Path, scale: int) -> None:
    import cv2
    import numpy as np

    from fuse_trt.engine.faces import load_sample

    rng = np.random.default_rng(16)
    ys, xs = np.mgrid[0:SIDE:8, 0:SIDE:8].astype(np.float32) / SIDE
    base = np.stack([120 + 60 * np.sin(6 * xs), 110 + 50 * np.cos(5 * ys), 100 + 40 * xs], -1)
    photo = cv2.resize(base, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)
    photo += rng.normal(0.0, 6.0, (SIDE, SIDE, 1)).astype(np.float32)
    face = load_sample("grace_hopper")
    face = cv2.resize(face, (face.shape[1] * scale, face.shape[0] * scale),
                      interpolation=cv2.INTER_CUBIC)
    y0, x0 = (SIDE - face.shape[0]) // 2, (SIDE - face.shape[1]) // 2
    photo[y0:y0 + face.shape[0], x0:x0 + face.shape[1]] = face
    bgr = cv2.cvtColor(np.clip(photo, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])


class StageClock:
    """Wall seconds per stage, each stage's own time: a stage entered inside another (mask
    inside prepare_face) is taken out of the outer one's time."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._inner: list[float] = []  # per open stage, time spent in stages inside it

    def wrap(self, stage: str, function):
        def timed(*args, **kwargs):
            self._inner.append(0.0)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self._inner.pop()
                self.seconds[stage] += elapsed - inner
                if self._inner:
                    self._inner[-1] += elapsed
        return timed


def install(clock: StageClock) -> None:
    import fuse_trt.api as api
    import fuse_trt.engine.fusion_input as fusion_input
    import fuse_trt.engine.images as images
    from fuse_trt.engine.faces.detect import FaceDetector

    patches = [(images, "read_image", "decode"), (images, "write_image", "encode"),
               (api.FaceFusion, "prepare", "open"), (FaceDetector, "detect", "detect"),
               (api, "prepare_face", "region"), (api, "refine_batch", "infer"),
               (fusion_input.FacePrep, "paste_into", "paste")]
    patches += [(fusion_input, name, "mask")
                for name in ("face_mask", "dilate_mask", "dilate_masks", "gaussian_blur")]
    patches += [(fusion_input, name, "composite") for name in ("colour_transfer_lab",
                                                               "alpha_blend", "context_image")]
    for owner, name, stage in patches:
        setattr(owner, name, clock.wrap(stage, getattr(owner, name)))


def differs_outside_baseline(revision: str) -> list[str]:
    """Files a fuse run executes that differ from ``revision`` but run as they are now in
    both variants (BASELINE swaps only the front end)."""
    changed = subprocess.run(["git", "diff", "--name-only", revision, "--", *CODE_DIRS],
                             capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    return sorted(set(changed) - {path for _, path in BASELINE})


def load_baseline(revision: str) -> None:
    """Run the code of ``revision`` for the files of BASELINE: each module is re-executed
    from that revision's source in its own namespace, in import order, so the modules after
    it bind the baseline's functions."""
    import importlib

    for name, path in BASELINE:
        module = importlib.import_module(name)
        source = subprocess.run(["git", "show", f"{revision}:{path}"], capture_output=True,
                                text=True, cwd=ROOT, check=True).stdout
        exec(compile(source, f"{revision}:{path}", "exec"), module.__dict__)
    import fuse_trt.api as api
    import fuse_trt.engine.fusion_input as fusion_input

    api.prepare_face = fusion_input.prepare_face


def one_run(photo: str, output: str, revision: str | None, queue) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    import io
    import resource

    if revision:
        load_baseline(revision)
    clock = StageClock()
    install(clock)
    from fuse_trt.cli import main

    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(["fuse", "sample:astronaut", photo, "-o", output])
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
    total = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    seconds = dict(clock.seconds)
    seconds["other"] = total - sum(seconds.values())
    queue.put({"exit": code, "stderr": err.getvalue().strip(), "total_s": total,
               "cpu_s": after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime,
               "minor_faults": after.ru_minflt - usage.ru_minflt, "stages_s": seconds})


def in_fresh_process(photo: Path, output: Path, revision: str | None) -> dict:
    context = multiprocessing.get_context("spawn")
    outcome = context.Queue()
    process = context.Process(target=one_run, args=(str(photo), str(output), revision, outcome))
    process.start()
    while True:  # a run that dies without a result must not leave us waiting on the queue
        try:
            result = outcome.get(timeout=5)
            break
        except queue.Empty:
            if not process.is_alive():
                raise SystemExit(f"a run of {photo.name} died (exit {process.exitcode})")
    process.join()
    return result


def cli_wall(photo: Path, output: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "fuse_trt.cli", "fuse", "sample:astronaut",
                           str(photo), "-o", str(output)], capture_output=True, cwd=ROOT)
    return time.perf_counter() - start, done.returncode


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def max_difference(first: Path, second: Path) -> int:
    import cv2
    import numpy as np

    a, b = (cv2.imread(str(path)).astype(np.int16) for path in (first, second))
    return int(np.abs(a - b).max())


def summary(name: str, photo: Path, runs: list[dict]) -> dict:
    stage_names = [*STAGES, "other"]
    return {"photo": f"{SIDE}x{SIDE} JPEG, grace_hopper sample x{SCALES[name]}",
            "bytes": photo.stat().st_size, "exit_codes": [run["exit"] for run in runs],
            "total_s": [run["total_s"] for run in runs],
            "median_total_s": median([run["total_s"] for run in runs]),
            "median_cpu_s": median([run["cpu_s"] for run in runs]),
            "median_minor_faults": median([run["minor_faults"] for run in runs]),
            "median_stages_s": {s: median([run["stages_s"][s] for run in runs])
                                for s in stage_names},
            "stderr": runs[-1]["stderr"]}


VARIANTS = {"after": None, "before": BASELINE_REVISION}


def main() -> None:
    load_before = os.getloadavg()
    results = {variant: {} for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="fuse-trt-large.") as scratch:
        scratch = Path(scratch)
        photos = {}
        for name, scale in SCALES.items():
            photos[name] = scratch / f"{name}.jpg"
            make_photo(photos[name], scale)
        runs = {(variant, name): [] for variant in VARIANTS for name in SCALES}
        for _ in range(RUNS):  # interleaved: a busy moment hits every case alike
            for name, photo in photos.items():
                for variant, revision in VARIANTS.items():
                    runs[variant, name].append(in_fresh_process(
                        photo, scratch / f"{name}-{variant}.jpg", revision))
        same = {name: max_difference(scratch / f"{name}-after.jpg",
                                     scratch / f"{name}-before.jpg") for name in SCALES}
        for (variant, name), variant_runs in runs.items():
            results[variant][name] = summary(name, photos[name], variant_runs)
        for name, photo in photos.items():
            wall, code = cli_wall(photo, scratch / f"{name}-cli.jpg")
            results["after"][name].update(cli_subprocess_wall_s=wall, cli_subprocess_exit=code)
    report = {"command": "nice -n 10 .venv/bin/python benchmarks/large_photo.py",
              "measured": "fuse-trt fuse sample:astronaut PHOTO -o OUT.jpg (defaults: UNet "
                          "refinement, ONNX Runtime FP32), in-process via fuse_trt.cli.main, "
                          f"fresh spawned process per run, {RUNS} runs per photo and variant "
                          f"interleaved; before = {BASELINE_REVISION}'s code for "
                          + ", ".join(path for _, path in BASELINE) + "; as they are now in "
                          "both variants: " + (", ".join(differs_outside_baseline(
                              BASELINE_REVISION)) or "nothing else differs"),
              "cpu_count": os.cpu_count(), "loadavg_before": load_before,
              "loadavg_after": os.getloadavg(), "target_s": 5.0,
              "max_abs_difference_before_after": same, "results": results}
    out = Path(__file__).with_suffix("")
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    stage_names = [*STAGES, "other"]
    lines = ["# 8000x8000 photo, one face: `fuse-trt fuse` per stage", "",
             f"Command: `{report['command']}`. {report['measured']}. CPU count "
             f"{report['cpu_count']} (shared with other jobs); load average before "
             f"{', '.join(f'{v:.2f}' for v in report['loadavg_before'])}, after "
             f"{', '.join(f'{v:.2f}' for v in report['loadavg_after'])}. Target: "
             f"{report['target_s']:.0f} s wall.", "",
             "| variant | photo | " + " | ".join(stage_names) + " | **total** (median) | "
             "runs | CPU s | minor faults |",
             "|---|---|" + "---|" * (len(stage_names) + 4)]
    for variant, by_photo in report["results"].items():
        for name, result in by_photo.items():
            stages = " | ".join(f"{result['median_stages_s'][s]:.2f}" for s in stage_names)
            runs = ", ".join(f"{t:.2f}" for t in result["total_s"])
            lines.append(f"| {variant} | {name} | {stages} | **{result['median_total_s']:.2f}** "
                         f"| {runs} | {result['median_cpu_s']:.2f} | "
                         f"{result['median_minor_faults']:,.0f} |")
    lines += ["", "Seconds, medians per stage. Photos: " + "; ".join(
        f"{name}: {result['photo']} ({result['bytes'] / 1e6:.1f} MB)"
        for name, result in report["results"]["after"].items()) + ".",
        "Output of after vs before, max abs pixel difference: " + ", ".join(
            f"{name} {diff}" for name, diff in report["max_abs_difference_before_after"].items())
        + ". Exit codes: " + "; ".join(
            f"{variant} {name} {result['exit_codes']}" for variant, by_photo
            in report["results"].items() for name, result in by_photo.items()) + ".",
        "`fuse-trt fuse` as a subprocess (interpreter start and imports included), after: "
        + ", ".join(f"{name} {result['cli_subprocess_wall_s']:.2f} s" for name, result
                    in report["results"]["after"].items()) + ".", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
