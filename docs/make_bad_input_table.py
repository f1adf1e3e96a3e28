"""Writes docs/bad-inputs.md: every bad input and fault the tests put through the CLI, run again
here, with the exit status and the line it printed. The single command lines are the cases of
tests/support/bad_inputs.py (run by tests/test_bad_inputs.py); the faults that need more than
a command line (a full disk, a damaged video, a sideways photo...) are set up the way
tests/test_reliability.py sets them up, with the same helpers. Run from the repository root:
`.venv/bin/python docs/make_bad_input_table.py`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.bad_inputs import (CASES, argv_for, damaged_before_close,  # noqa: E402
                                      full_disk, prepared_inputs, run_in_process,
                                      write_orientation_6)


def _last_line(err: str) -> str:
    return next((line for line in reversed(err.splitlines()) if line.strip()), "")


@contextlib.contextmanager
def _fd2_captured():
    """What is written to file descriptor 2 inside the block (native libraries' own lines)."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        text = []
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text.append(captured.read().decode(errors="replace"))


def full_disk_stream(prepared, scratch: Path, suffix: str) -> tuple[int, str]:
    with full_disk(scratch / f"small{suffix}") as (disk, _):
        output = disk / f"out{suffix}"
        output.write_bytes(b"old")
        code, err = run_in_process(["stream", "--source", "sample:grace_hopper",
                                    str(prepared.values["video"]), "-o", str(output), "--blend",
                                    "classic", "--every", "5"])
        kept = output.read_bytes() == b"old" and [p.name for p in disk.iterdir()] == [output.name]
        line = _last_line(err).replace(str(disk), "{disk}")
    return code, f"{line} (old output kept, nothing else left: {kept})"


def damaged_video(prepared, scratch: Path) -> tuple[int, str]:
    from fuse_trt.engine.errors import FuseTrtError

    try:
        damaged_before_close(scratch / "damaged.avi").close()
    except FuseTrtError as error:
        return 1, f"error: {error}".replace(str(scratch), "{out}")
    return 0, "closed without an error"


def sideways_photo(prepared, scratch: Path) -> tuple[int, str]:
    import numpy as np

    from fuse_trt.engine.faces import load_sample
    from fuse_trt.engine.images import read_image

    sideways = write_orientation_6(load_sample("grace_hopper"), scratch / "phone.jpg")
    output = scratch / "fused-phone.png"
    code, err = run_in_process(["fuse", "sample:astronaut", str(sideways), "-o", str(output),
                                "--blend", "classic"])
    if code:
        return code, _last_line(err)
    shape = read_image(output).rgb.shape
    upright = shape == load_sample("grace_hopper").shape
    return code, f"wrote {{out}}/fused-phone.png, {shape[1]}x{shape[0]} (upright: {upright})"


def forced_build(prepared, scratch: Path) -> tuple[int, str]:
    from fuse_trt.engine.bundle import Bundle

    bundle = prepared.values["bundle"]
    code, err = run_in_process(["build", "--tiers", "64", "-o", str(bundle), "--force"])
    replacing = [line for line in err.splitlines() if "replacing" in line]
    line = (replacing or [_last_line(err)])[0].replace(str(bundle), "{bundle}")
    return code, f"{line} (tiers now {','.join(Bundle.load(bundle).tiers.names())})"


def stream_off_a_terminal(prepared, scratch: Path) -> tuple[int, str]:
    code, err = run_in_process(["stream", "--source", "sample:grace_hopper",
                                str(prepared.values["video"]), "-o", "-", "--blend", "classic",
                                "--every", "10", "--max-frames", "12"])
    progress = "fps" in err or "frame " in err
    return code, f"progress line printed: {progress}"


def repeated_warning(prepared, scratch: Path) -> tuple[int, str]:
    from fuse_trt.stream.log_once import warnings_once_per_run

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    log = logging.getLogger("fuse_trt")
    handler = Keep(logging.WARNING)
    log.addHandler(handler)
    try:
        with warnings_once_per_run():
            for _ in range(40):
                log.warning("image %dx%d is above the largest tier; scaling", 4000, 3000)
    finally:
        log.removeHandler(handler)
    return 0, f"{len(records)} lines: " + " / ".join(records)


def libpng_warning(prepared, scratch: Path) -> tuple[int, str]:
    from PIL import Image, ImageCms

    from fuse_trt.engine.faces import load_sample

    grey = scratch / "grey.png"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(load_sample("grace_hopper")[:, :, 1]).save(grey, icc_profile=profile)
    with _fd2_captured() as native:
        code, err = run_in_process(["fuse", "sample:astronaut", str(grey), "-o",
                                    str(scratch / "grey-out.png"), "--refine", "none"])
    leaked = "libpng" in native[0] + err
    return code, f"{_last_line(err) or 'nothing on stderr'} (libpng line on stderr: {leaked})"


# (issue 16 point, fault, how it is run); tests/test_reliability.py sets up the same faults.
FAULTS = (
    ("1", "stream -o an .mp4 on a full 150 KiB disk",
     lambda p, s: full_disk_stream(p, s, ".mp4")),
    ("1", "stream -o an .avi on a full 150 KiB disk",
     lambda p, s: full_disk_stream(p, s, ".avi")),
    ("1", "finished video damaged before it is put in place (VideoSink.close)", damaged_video),
    ("2", "fuse onto a JPEG stored sideways with EXIF orientation 6", sideways_photo),
    ("6", "build --tiers 64 --force over a bundle of other tiers", forced_build),
    ("9", "stream with stderr not a terminal", stream_off_a_terminal),
    ("9", "a warning repeated on 40 frames of a stream", repeated_warning),
    ("9", "fuse onto a grey PNG carrying an RGB colour profile (libpng warns)", libpng_warning),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _placeholders(line: str, prepared) -> str:
    """Prepared paths as their {names}, durations as N, so the table only changes with what
    the CLI says."""
    for name, value in sorted(prepared.values.items(), key=lambda item: -len(str(item[1]))):
        line = line.replace(str(value), "{" + name + "}")
    return re.sub(r"\b\d+(\.\d+)? s\b", "N s", line)


def main() -> None:
    from fuse_trt.commands.native_logs import quiet_native_logs

    quiet_native_logs(0)  # as the CLI does, before this process opens its first video
    rows, faults = [], []
    with prepared_inputs() as prepared, tempfile.TemporaryDirectory() as scratch:
        for case in CASES:
            code, err = run_in_process(argv_for(case, prepared))
            line = _placeholders(_last_line(err), prepared)
            status = "ok" if code == case.code and case.message in line else "UNEXPECTED"
            rows.append(f"| {case.defect} | {case.name} | `fuse-trt {_cell(' '.join(case.argv))}` "
                        f"| {code} | {_cell(line)} | {status} |")
        for defect, fault, run in FAULTS:
            code, seen = run(prepared, Path(scratch))
            faults.append(f"| {defect} | {_cell(fault)} | {code} | "
                          f"{_cell(_placeholders(seen, prepared))} |")
    lines = ["# Bad inputs and faults", "",
             "Every case the test suite tries through the CLI (tests/support/bad_inputs.py, run",
             "by tests/test_bad_inputs.py; faults set up in tests/test_reliability.py), run",
             "again by `.venv/bin/python docs/make_bad_input_table.py`, with the exit status and",
             "the last line printed on stderr. Exit 2: a usage error (a bad option value); exit",
             "1: a runtime error. Issue 16 point \"-\": bad input the issue found already handled.",
             "", "| issue 16 point | case | command | exit | stderr | |",
             "|---|---|---|---|---|---|", *rows, "",
             "## Faults set up by the tests", "",
             "| issue 16 point | fault | exit | what the user sees |", "|---|---|---|---|",
             *faults, ""]
    (ROOT / "docs" / "bad-inputs.md").write_text("\n".join(lines))
    print(f"wrote docs/bad-inputs.md ({len(rows)} cases, {len(faults)} faults)")


if __name__ == "__main__":
    main()
