"""Progress on long steps: a line per phase when stderr is not a terminal, bars when it is,
and TensorRT 10+'s IProgressMonitor attached to the build (8.6 has none)."""
from __future__ import annotations

import logging
import sys

import pytest

from fuse_trt.engine.progress import PROGRESS_LOGGER, enable_phase_lines, phase, steps
from fuse_trt.engine.spec import FUSION_SPEC
from tests.conftest import tiny_tiers
from tests.support.tensorrt import VERSIONS, emulate
from tests.support.tensorrt.building import build_plan


@pytest.fixture
def phase_lines(monkeypatch):
    logger = logging.getLogger(PROGRESS_LOGGER)
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", True)
    enable_phase_lines()
    enable_phase_lines()  # idempotent: one handler, one line per event


def test_a_line_per_phase_off_a_terminal(phase_lines, capsys):
    with phase("ONNX export"):
        pass
    with pytest.raises(ValueError), phase("INT8 gate"):
        raise ValueError("boom")
    assert list(steps([1, 2, 3], "calibrating")) == [1, 2, 3]
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "ONNX export ..." and lines[1].startswith("ONNX export: done in ")
    assert lines[2] == "INT8 gate ..." and lines[3].startswith("INT8 gate: failed after ")
    assert lines[4] == "calibrating ..." and lines[5].startswith("calibrating: done in ")
    assert len(lines) == 6  # no bar off a terminal


@pytest.mark.parametrize("version", VERSIONS)
def test_tensorrt_builds_report_their_phases(version, monkeypatch, tmp_path, phase_lines,
                                            capsys):
    emulated = emulate(version).install(monkeypatch)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    build_plan(tmp_path / "bundle", FUSION_SPEC, tiny_tiers())
    err = capsys.readouterr().err
    assert "TensorRT fp32 GPU plan for tiers 32, 48, 64 ..." in err
    has_monitor = not version.startswith("8.")
    touched = set(emulated.touched())
    assert ("IBuilderConfig.progress_monitor" in touched) == has_monitor
    assert ("IProgressMonitor.step_complete" in touched) == has_monitor
    assert ("TensorRT: Building engine (2 steps)" in err) == has_monitor
    assert ("TensorRT Tactic selection" in err) == has_monitor  # the tqdm bar on a terminal
    assert "TensorRT: Tactic selection" not in err  # nested phases get a bar, not a line
