"""Backend selection: auto prefers TensorRT on a GPU, then ONNX Runtime on CUDA, then CPU, and
says why it skipped each; a named backend that cannot run is an error, never a fallback."""
import pytest

from fuse_trt.engine.choices import BackendName, Precision
from fuse_trt.engine.errors import BackendUnavailableError, ConfigError
from fuse_trt.runtime import select


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(select, "tensorrt_unusable", lambda: "no CUDA GPU found")
    monkeypatch.setattr(select, "ort_cuda_unusable", lambda: "no CUDAExecutionProvider")


def test_auto_on_a_cpu_machine_runs_onnxruntime_on_cpu_and_says_why(tiny_bundle, no_gpu):
    chosen = select.select_backend(tiny_bundle)
    assert (chosen.name, chosen.precision) == (BackendName.ONNXRUNTIME, Precision.FP32)
    assert chosen.providers == ("CPUExecutionProvider",)
    assert chosen.describe() == (
        "backend onnxruntime (CPUExecutionProvider), precision fp32 (auto); skipped tensorrt: "
        "no CUDA GPU found; onnxruntime CUDA: no CUDAExecutionProvider")


def test_auto_takes_onnxruntime_cuda_next(tiny_bundle, no_gpu, monkeypatch):
    monkeypatch.setattr(select, "ort_cuda_unusable", lambda: None)
    chosen = select.select_backend(tiny_bundle)
    assert chosen.providers == ("CUDAExecutionProvider", "CPUExecutionProvider")
    assert chosen.skipped == ("tensorrt: no CUDA GPU found",)
    assert chosen.precision == Precision.FP32  # ONNX Runtime's default, also on CUDA


def test_auto_skips_tensorrt_without_a_plan_and_takes_it_with_one(tiny_bundle, no_gpu,
                                                                  monkeypatch):
    monkeypatch.setattr(select, "tensorrt_unusable", lambda: None)
    skipped = select.select_backend(tiny_bundle).skipped[0]
    assert skipped.startswith("tensorrt: the bundle has no fp16 TensorRT plan")
    monkeypatch.setattr(select, "_missing_plan", lambda bundle, precision: None)
    chosen = select.select_backend(tiny_bundle)
    assert (chosen.name, chosen.precision, chosen.skipped) == \
        (BackendName.TENSORRT, Precision.FP16, ())


def test_a_named_backend_that_cannot_run_is_an_error(tiny_bundle, no_gpu):
    with pytest.raises(BackendUnavailableError, match="--backend tensorrt cannot run here: "
                                                      "no CUDA GPU found"):
        select.select_backend(tiny_bundle, "tensorrt")
    with pytest.raises(ConfigError, match="the torch backend has no int8"):
        select.select_backend(tiny_bundle, "torch", "int8")
    assert select.select_backend(tiny_bundle, "onnxruntime", "int8").precision == Precision.INT8


def test_without_tensorrt_installed_the_probe_says_so(monkeypatch):
    monkeypatch.setattr(select, "tensorrt_installed", lambda: False)
    assert "pip install 'fuse-trt[gpu]'" in select.tensorrt_unusable()


def test_the_probes_report_what_is_installed(monkeypatch):
    import sys
    import types

    import onnxruntime

    monkeypatch.delitem(sys.modules, "tabnanny", raising=False)
    assert select._importable("tabnanny") is True  # stdlib, not imported yet: found by spec
    assert select._importable("no_such_module_here") is False
    assert select._importable("no_such_package_here.sub") is False  # find_spec raises
    monkeypatch.setitem(sys.modules, "stand_in", types.ModuleType("stand_in"))
    assert select._importable("stand_in") is True
    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert select.ort_cuda_unusable() is None
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert "no CUDAExecutionProvider" in select.ort_cuda_unusable()


def test_only_plans_with_their_sidecar_are_candidates(tmp_path):
    from types import SimpleNamespace

    from fuse_trt.runtime.plan_sidecar import PlanSidecar

    names = ("lone.plan", "missing.plan", "paired.plan")
    (tmp_path / "lone.plan").write_bytes(b"plan")  # no sidecar
    sidecar = PlanSidecar(model="m", precision="fp16", tensorrt_version="10.3.0",
                          gpu_name="g", compute_capability=(8, 7), cuda_version="12.2",
                          driver_version="12.2", onnx_file="model.onnx", onnx_sha256="ab",
                          profiles={})
    sidecar.write(tmp_path / "missing.json")  # a sidecar without its plan
    (tmp_path / "paired.plan").write_bytes(b"plan")
    sidecar.write(tmp_path / "paired.json")
    manifest = SimpleNamespace(find=lambda *key: [SimpleNamespace(file=n) for n in names])
    bundle = SimpleNamespace(directory=tmp_path, manifest=manifest)
    [candidate] = select.bundle_plan_candidates(bundle, "fp16")
    assert candidate.path == tmp_path / "paired.plan" and candidate.sidecar == sidecar
