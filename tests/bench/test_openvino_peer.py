"""The OpenVINO peer row of `fuse-trt bench`: absent with its reason when openvino is not
importable, measured beside ONNX Runtime when it is (a stand-in module that runs the ONNX
through ONNX Runtime, so the row logic is checked whether or not openvino is installed)."""
import importlib.machinery
import json
import sys
import types

import numpy as np
import onnxruntime
import pytest
from click.testing import CliRunner

from fuse_trt.bench.openvino_peer import OpenVinoBackend
from fuse_trt.bench.plan import plan_combinations, why_not
from fuse_trt.commands.bench import bench_command

FAST = ["--tiers", "32", "--warmup-ms", "0", "--duration-s", "0", "--min-iters", "2",
        "--slice-ms", "1", "--quiet", "--no-memory"]


def fake_openvino(compiled: list) -> types.ModuleType:
    """An ``openvino`` whose CPU plugin runs the ONNX through ONNX Runtime."""
    class Request:
        def __init__(self, path):
            self.session = onnxruntime.InferenceSession(path)
            self.outputs = {}

        def infer(self, feed):
            names = [o.name for o in self.session.get_outputs()]
            self.outputs = dict(zip(names, self.session.run(names, dict(feed))))

        def get_tensor(self, name):
            return types.SimpleNamespace(data=self.outputs[name])

    class Core:
        def compile_model(self, path, device, config):
            compiled.append((path, device, dict(config)))
            return types.SimpleNamespace(create_infer_request=lambda: Request(path))

    module = types.ModuleType("openvino")
    module.__spec__ = importlib.machinery.ModuleSpec("openvino", None)
    module.Core = Core
    return module


def _bench(tiny_bundle, tmp_path, *args):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(bench_command, ["--bundle", str(tiny_bundle.directory),
                                                *FAST, *args, "--json", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output, json.loads(out.read_text())


def test_without_openvino_the_row_is_absent_and_the_table_says_why(tiny_bundle, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now fails
    output, report = _bench(tiny_bundle, tmp_path, "--precisions", "fp32", "--no-e2e")
    assert {row["backend"] for row in report["results"]} == {"onnxruntime", "torch"}
    assert report["skipped"] == [{"backend": "openvino", "precision": "fp32", "reason":
                                  "openvino is not installed (pip install 'fuse-trt[bench]')"}]
    assert "- skipped openvino/fp32: openvino is not installed" in output
    ort = next(r for r in report["results"] if r["backend"] == "onnxruntime")
    assert ort["speedup_vs_openvino"] is None
    check = next(t for t in report["targets"] if "OpenVINO" in t["target"])
    assert check["met"] is None and check["value"] is None


def test_with_openvino_the_row_runs_the_same_fp32_onnx(tiny_bundle, tmp_path, monkeypatch):
    compiled = []
    monkeypatch.setitem(sys.modules, "openvino", fake_openvino(compiled))
    output, report = _bench(tiny_bundle, tmp_path, "--backends", "onnxruntime,openvino",
                            "--precisions", "fp32")
    assert report["skipped"] == [] and report["errors"] == []
    rows = {row["backend"]: row for row in report["results"]}
    assert set(rows) == {"onnxruntime", "openvino"}
    assert rows["openvino"]["e2e_median_ms"] > 0  # the fusion ran on the peer's backend
    assert rows["onnxruntime"]["speedup_vs_openvino"] == pytest.approx(
        rows["openvino"]["median_ms"] / rows["onnxruntime"]["median_ms"])
    path, device, config = compiled[0]
    assert path.endswith("model.onnx") and device == "CPU"
    assert config["INFERENCE_PRECISION_HINT"] == "f32"
    assert "| 32 | openvino | fp32 |" in output


def test_the_peer_gives_the_onnx_result_and_only_fp32(tiny_bundle, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", fake_openvino([]))
    tier = tiny_bundle.tiers.by_name("32")
    feed = tiny_bundle.spec.tier_example_feed(tier)
    onnx = tiny_bundle.artifact_path("onnx", "fp32")
    with OpenVinoBackend(onnx, tiny_bundle.spec, tiny_bundle.tiers) as peer:
        got = peer.infer(tier, feed)["fused"]
    expected = onnxruntime.InferenceSession(str(onnx)).run(["fused"], feed)[0]
    np.testing.assert_array_equal(got, expected)
    assert why_not(tiny_bundle, "openvino", "int8") == \
        "the OpenVINO row runs the bundle's FP32 ONNX only"
    chosen, _ = plan_combinations(tiny_bundle, None, None)
    assert ("openvino", "fp32") in {(c.backend, c.precision) for c in chosen}
