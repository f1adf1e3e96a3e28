"""Writes docs/bad-inputs.md: every bad input and fault of tests/support/bad_inputs.py (the
cases tests/test_bad_inputs.py runs), put through the CLI, with the exit status and the line
it printed. Run from the repository root: `.venv/bin/python docs/make_bad_input_table.py`.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.bad_inputs import CASES, argv_for, prepared_inputs, run_in_process  # noqa: E402

# Faults tests/test_reliability.py injects or sets up itself (not single command lines).
FAULTS = (
    ("1", "stream -o on a full 150 KiB disk (.mp4 and .avi)", 1,
     "error: OUT: the disk is full (N KiB free) after N frames; nothing was written there / "
     "... the finished video holds 0 readable frames of 40 written (disk full or write "
     "error); nothing was written there"),
    ("1", "finished video damaged before it is put in place", 1,
     "... holds 0 readable frames of 3 written ..."),
    ("2", "fuse onto a JPEG stored sideways with EXIF orientation 6", 0,
     "wrote OUT (upright, same as fusing the upright photo)"),
    ("6", "build --tiers 64 --force over a bundle", 0, "bundle replaced with tier 64"),
    ("9", "stream with stderr not a terminal", 0, "no progress line"),
    ("9", "a warning repeated on 40 frames", 0,
     "logged once, then: the warning '...' came 39 more time(s) in this run"),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    rows = []
    with prepared_inputs() as prepared:
        for case in CASES:
            argv = argv_for(case, prepared)
            code, err = run_in_process(argv)
            line = next((l for l in reversed(err.splitlines()) if l.strip()), "")
            for name, value in prepared.values.items():
                line = line.replace(str(value), "{" + name + "}")
            status = "ok" if code == case.code and case.message in line else "UNEXPECTED"
            rows.append(f"| {case.defect} | {case.name} | `fuse-trt {_cell(' '.join(case.argv))}` "
                        f"| {code} | {_cell(line)} | {status} |")
    lines = ["# Bad inputs and faults", "",
             "Every case the test suite tries (tests/support/bad_inputs.py, run by",
             "tests/test_bad_inputs.py; faults set up in tests/test_reliability.py), with the",
             "exit status and the one line printed on stderr. Exit 2: a usage error (a bad",
             "option value); exit 1: a runtime error. Regenerate with",
             "`.venv/bin/python docs/make_bad_input_table.py`.", "",
             "| issue 16 point | case | command | exit | stderr | |",
             "|---|---|---|---|---|---|", *rows, "",
             "## Faults set up by the tests", "",
             "| issue 16 point | fault | exit | what the user sees |", "|---|---|---|---|",
             *(f"| {d} | {_cell(f)} | {c} | {_cell(m)} |" for d, f, c, m in FAULTS), ""]
    (ROOT / "docs" / "bad-inputs.md").write_text("\n".join(lines))
    print(f"wrote docs/bad-inputs.md ({len(rows)} cases)")


if __name__ == "__main__":
    main()
