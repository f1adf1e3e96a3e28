"""Issue 16 through the CLI: every case of tests/support/bad_inputs.py gets its exit status
(2 usage, 1 runtime) and one stderr line with its message, before any long work starts.
docs/make_bad_input_table.py turns the same cases into docs/bad-inputs.md."""
from __future__ import annotations

import pytest

from tests.support.bad_inputs import CASES, argv_for, prepared_inputs, run_in_process


@pytest.fixture(scope="module")
def prepared():
    with prepared_inputs() as inputs:
        yield inputs


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_one_line_with_its_exit_status(prepared, case):
    code, err = run_in_process(argv_for(case, prepared))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == case.code, err
    assert lines and lines[-1].startswith("error:") and case.message in lines[-1], err
    assert "Traceback" not in err


def test_read_only_directory_is_left_empty(prepared):
    for case in CASES:
        if "{ro}" in " ".join(case.argv):
            run_in_process(argv_for(case, prepared))
    ro = prepared.values["ro"]
    assert str(ro) == "/proc" or not any(ro.iterdir())


def test_refused_build_leaves_the_bundle_as_it_was(prepared):
    bundle = prepared.values["bundle"]
    before = {path.name: path.read_bytes() for path in bundle.iterdir()}
    run_in_process(["build", "--tiers", "512", "-o", str(bundle)])
    assert {path.name: path.read_bytes() for path in bundle.iterdir()} == before
