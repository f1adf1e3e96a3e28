"""`fuse-trt doctor` without TensorRT, with the TensorRT/pycuda stand-ins, and with a broken
default bundle."""
from __future__ import annotations

import sys

import pytest

from fuse_trt.cli import main
from tests.conftest import make_tiny_bundle
from tests.support.tensorrt import FakeGpu, emulate
from tests.triton.repository import add_fake_plan

TRT = "10.16.1.11"


def run_doctor(capsys) -> tuple[int, dict[str, str]]:
    try:
        main(["doctor"])
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    lines = capsys.readouterr().out.splitlines()
    findings = {}
    for line in lines[:-1]:
        status, rest = line.split(maxsplit=1)
        topic, detail = rest.split(": ", 1)
        findings.setdefault(topic, f"{status} {detail}")
    findings["result"] = lines[-1]
    return code, findings


@pytest.fixture
def no_tensorrt(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)


@pytest.fixture(scope="module")
def planned_bundle(tmp_path_factory):
    bundle, _ = make_tiny_bundle(tmp_path_factory.mktemp("doctor-bundle"))
    bundle = add_fake_plan(bundle, "fp16", tensorrt_version=TRT, gpu_name="Emulated GPU",
                           compute_capability=(8, 7))
    return add_fake_plan(bundle, "fp32", tensorrt_version=TRT, gpu_name="NVIDIA A2",
                         compute_capability=(8, 6))


def test_without_tensorrt_the_default_job_runs_on_onnxruntime(no_tensorrt, capsys):
    code, found = run_doctor(capsys)
    assert code == 0, found
    assert found["TensorRT"].startswith("missing TensorRT is not importable")
    assert found["CUDA"].startswith("missing pycuda is not importable")
    assert found["default bundle"].startswith("ok ") and "every sha256 matches" in found[
        "default bundle"]
    assert found["backend auto"].startswith(
        "ok backend onnxruntime (CPUExecutionProvider), precision fp32 (auto)")
    assert "skipped tensorrt: TensorRT or pycuda is not installed" in found["backend auto"]
    assert "never auto: torch" in found["backend auto"] and "triton" in found["backend auto"]
    assert found["result"].startswith("result: the default job can run")
    for topic in ("Python", "fuse-trt", "ONNX Runtime", "OpenCV", "torch", "face models"):
        assert found[topic].startswith("ok "), (topic, found[topic])


def test_with_the_stand_ins_it_reports_the_gpu_and_picks_the_matching_plan(
        monkeypatch, capsys, planned_bundle):
    emulate(TRT, FakeGpu(total_memory=6 << 30, integrated=True)).install(monkeypatch)
    monkeypatch.setattr("fuse_trt.doctor.default_bundle_dir", lambda: planned_bundle.directory)
    code, found = run_doctor(capsys)
    assert code == 0, found
    assert found["TensorRT"] == f"ok {TRT}, found as a module without a file or distribution " \
                                "(a stand-in?)"
    assert found["CUDA"].startswith("ok driver supports CUDA 12.4") and "1 GPU(s)" in found["CUDA"]
    assert found["GPU"] == ("ok GPU 0: Emulated GPU, compute capability 8.7, 6.0 GiB, "
                            "integrated (shares host memory)")
    plans = {topic: text for topic, text in found.items() if topic.startswith("plan ")}
    matching = [text for text in plans.values() if "matches this GPU" in text]
    foreign = [text for text in plans.values() if "does not match" in text]
    assert len(matching) == 1 and "fp16, TensorRT 10.16.1.11, Emulated GPU sm87" in matching[0]
    assert len(foreign) == 1 and "built for NVIDIA A2 (sm86)" in foreign[0]
    assert found["backend auto"].startswith("ok backend tensorrt, precision fp16 (auto);")
    assert "skipped" not in found["backend auto"]


def test_a_corrupt_default_bundle_fails_with_exit_1(monkeypatch, capsys, tmp_path, no_tensorrt):
    bundle, _ = make_tiny_bundle(tmp_path / "bundle")
    (bundle.directory / "model.onnx").write_bytes(b"changed")
    monkeypatch.setattr("fuse_trt.doctor.default_bundle_dir", lambda: bundle.directory)
    code, found = run_doctor(capsys)
    assert code == 1
    assert found["default bundle"].startswith("problem ") and "sha256" in found["default bundle"]
    assert found["result"].startswith("result: the default job cannot run")


def test_version_is_the_installed_distribution_s(capsys):
    from importlib.metadata import version

    main(["--version"])  # returns: exit status 0
    assert capsys.readouterr().out == f"fuse-trt {version('fuse-trt')}\n"
