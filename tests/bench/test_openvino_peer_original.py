"""The second OpenVINO peer row, on the graph before our export rewrites
(``--openvino-original``): planned only when given, its ratio and target, its table column, a
one-line error for an ONNX without the bundle's I/O names, and real runs (the stand-in
``openvino`` of test_openvino_peer, then the installed one with the memory child)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from fuse_trt.bench.openvino_peer import OpenVinoBackend, Peer, check_original_onnx
from fuse_trt.bench.plan import Combination, plan_combinations
from fuse_trt.bench.report import TABLE_HEADER, results_table
from fuse_trt.bench.results import build_rows, evaluate_targets
from fuse_trt.commands.bench import bench_command
from fuse_trt.engine.errors import ModelContractError
from tests.bench.test_openvino_peer import FAST, fake_openvino
from tests.support.bad_inputs import run_in_process

ORIGINAL_TARGET = "ORT FP32 at least as fast as OpenVINO FP32 on the original graph"
SAME_TARGET = "ORT FP32 at least as fast as OpenVINO FP32 on the same graph"
ORT, SAME, ORIGINAL = (Combination("onnxruntime", "fp32"), Combination("openvino", "fp32"),
                       Combination("openvino-original", "fp32"))


@pytest.fixture(scope="module")
def original_onnx(tiny_bundle, tmp_path_factory):
    """A stand-in for the original graph: a copy of the bundle's FP32 ONNX (same names)."""
    path = tmp_path_factory.mktemp("original") / "original.onnx"
    shutil.copyfile(tiny_bundle.artifact_path("onnx", "fp32"), path)
    return path


@pytest.fixture(scope="module")
def renamed_onnx(tmp_path_factory):
    """An ONNX whose one input and one output are not the bundle's names."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["result"])], "renamed",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("result", TensorProto.FLOAT, ["N", 3, "H", "W"])])
    path = tmp_path_factory.mktemp("renamed") / "renamed.onnx"
    onnx.save(helper.make_model(graph), path)
    return path


def _rows(tiny_bundle, medians: dict[Combination, float]) -> list[dict]:
    """Rows of two tiers where each combination takes ``medians[combo]`` ms at tier 32 and
    twice that at tier 48."""
    tiers = [tiny_bundle.tiers.by_name("32"), tiny_bundle.tiers.by_name("48")]
    timings = {("model", combo, tier.name): [ms * scale] * 3
               for combo, ms in medians.items()
               for tier, scale in zip(tiers, (1, 2))}
    return build_rows(list(medians), tiers, 1, timings, [], {t.name: 10 ** 6 for t in tiers},
                      100.0, None, {})


def test_the_original_peer_ratio_is_its_median_over_the_rows(tiny_bundle):
    rows = _rows(tiny_bundle, {ORT: 2.0, SAME: 3.0, ORIGINAL: 5.0})
    by_key = {(r["backend"], r["tier"]): r for r in rows}
    for tier in (32, 48):
        assert by_key[("onnxruntime", tier)]["speedup_vs_openvino_original"] == \
            pytest.approx(2.5)
        assert by_key[("onnxruntime", tier)]["speedup_vs_openvino"] == pytest.approx(1.5)
        assert by_key[("openvino", tier)]["speedup_vs_openvino_original"] == \
            pytest.approx(5 / 3)
        assert by_key[("openvino-original", tier)]["speedup_vs_openvino_original"] == 1.0
    without = _rows(tiny_bundle, {ORT: 2.0, SAME: 3.0})
    assert all(row["speedup_vs_openvino_original"] is None for row in without)


def test_both_openvino_targets_are_evaluated_per_tier(tiny_bundle):
    checks = evaluate_targets(_rows(tiny_bundle, {ORT: 4.0, SAME: 3.0, ORIGINAL: 5.0}), [])
    original = [c for c in checks if c["target"] == ORIGINAL_TARGET]
    same = [c for c in checks if c["target"] == SAME_TARGET]
    assert [(c["tier"], c["field"], c["bound"]) for c in original] == [
        (32, "speedup_vs_openvino_original", 1.0), (48, "speedup_vs_openvino_original", 1.0)]
    assert all(c["value"] == pytest.approx(1.25) and c["met"] is True for c in original)
    assert all(c["value"] == pytest.approx(0.75) and c["met"] is False for c in same)
    unanswered = evaluate_targets(_rows(tiny_bundle, {ORT: 4.0}), [])
    assert [c["met"] for c in unanswered if c["target"] == ORIGINAL_TARGET] == [None, None]


def test_the_table_has_a_column_per_openvino_graph(tiny_bundle):
    lines = results_table(_rows(tiny_bundle, {ORT: 2.0, SAME: 3.0, ORIGINAL: 5.0}))
    columns = [cell.strip() for cell in TABLE_HEADER.strip("|").split("|")]
    assert "vs OpenVINO (same graph)" in columns and "vs OpenVINO (original graph)" in columns
    same, original = (columns.index("vs OpenVINO (same graph)"),
                      columns.index("vs OpenVINO (original graph)"))
    ort_32 = next(line for line in lines if line.startswith("| 32 | onnxruntime |"))
    cells = [cell.strip() for cell in ort_32.strip("|").split("|")]
    assert len(cells) == len(columns)
    assert (cells[same], cells[original]) == ("1.50x", "2.50x")


def test_plan_has_the_original_row_only_when_given(tiny_bundle, original_onnx, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", fake_openvino([]))
    chosen, _ = plan_combinations(tiny_bundle, ("onnxruntime",), ("fp32",))
    assert chosen == [ORT]
    chosen, _ = plan_combinations(tiny_bundle, ("onnxruntime",), ("fp32",), original_onnx)
    assert chosen == [ORT, ORIGINAL]
    chosen, _ = plan_combinations(tiny_bundle, None, None, original_onnx)
    assert ORIGINAL in chosen and SAME in chosen
    chosen, skipped = plan_combinations(tiny_bundle, ("onnxruntime",), ("fp32", "int8"),
                                        original_onnx)
    assert {"backend": "openvino-original", "precision": "int8", "reason":
            "the openvino-original row runs the original graph's FP32 ONNX only"} in skipped
    monkeypatch.setitem(sys.modules, "openvino", None)
    _, skipped = plan_combinations(tiny_bundle, ("onnxruntime",), ("fp32",), original_onnx)
    assert skipped == [{"backend": "openvino-original", "precision": "fp32", "reason":
                        "openvino is not installed (pip install 'fuse-trt[bench]')"}]


def test_an_original_without_the_bundles_names_is_one_line_naming_them(tiny_bundle,
                                                                       renamed_onnx):
    spec = tiny_bundle.spec
    code, err = run_in_process(["bench", "--bundle", str(tiny_bundle.directory), *FAST,
                                "--openvino-original", str(renamed_onnx)])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {renamed_onnx}: the original graph does not keep")
    for name in (*spec.input_names, *spec.output_names):
        assert repr(name) in lines[0]
    assert f"inputs 'image' that {spec.name} does not feed" in lines[0]
    with pytest.raises(ModelContractError, match="missing outputs 'fused'"):
        check_original_onnx(renamed_onnx, spec)


def test_an_original_that_is_not_there_is_a_usage_error(tiny_bundle, tmp_path):
    code, err = run_in_process(["bench", "--bundle", str(tiny_bundle.directory), *FAST,
                                "--openvino-original", str(tmp_path / "absent.onnx")])
    assert code == 2 and "Traceback" not in err
    assert "absent.onnx" in err and "does not exist" in err


def test_the_bench_script_refuses_a_renamed_original_before_any_work(renamed_onnx):
    script = [str(Path(__file__).parents[2] / "benchmarks" / "run_cpu_bench.py"),
              "--openvino-original", str(renamed_onnx)]
    done = subprocess.run([sys.executable, *script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "does not keep" in done.stderr.splitlines()[-1]


def test_the_row_runs_the_given_onnx_under_its_name(tiny_bundle, original_onnx, tmp_path,
                                                    monkeypatch):
    compiled = []
    monkeypatch.setitem(sys.modules, "openvino", fake_openvino(compiled))
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(bench_command, [
        "--bundle", str(tiny_bundle.directory), *FAST, "--backends", "onnxruntime,openvino",
        "--precisions", "fp32", "--openvino-original", str(original_onnx), "--json", str(out)],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["errors"] == [] and report["skipped"] == []
    assert report["config"]["openvino_original_onnx"] == str(original_onnx.resolve())
    rows = {row["backend"]: row for row in report["results"]}
    assert set(rows) == {"onnxruntime", "openvino", "openvino-original"}
    assert rows["openvino-original"]["e2e_median_ms"] > 0
    assert rows["onnxruntime"]["speedup_vs_openvino_original"] == pytest.approx(
        rows["openvino-original"]["median_ms"] / rows["onnxruntime"]["median_ms"])
    assert sorted(path for path, _, _ in compiled) == sorted(
        [str(tiny_bundle.artifact_path("onnx", "fp32")), str(original_onnx.resolve())])
    assert "| 32 | openvino-original | fp32 |" in result.output
    with OpenVinoBackend(original_onnx, tiny_bundle.spec, tiny_bundle.tiers,
                         name=Peer.ORIGINAL_GRAPH) as peer:
        assert peer.name == "openvino-original"


def test_real_openvino_on_the_original_graph_memory_child_and_no_stability(
        tiny_bundle, original_onnx, tmp_path):
    pytest.importorskip("openvino")
    out = tmp_path / "bench.json"
    fast = [arg for arg in FAST if arg != "--no-memory"]
    result = CliRunner().invoke(bench_command, [
        "--bundle", str(tiny_bundle.directory), *fast, "--no-e2e", "--backends", "onnxruntime",
        "--precisions", "fp32", "--openvino-original", str(original_onnx),
        "--stability-fusions", "2", "--json", str(out)],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["errors"] == [] and report["skipped"] == []
    rows = {row["backend"]: row for row in report["results"]}
    assert set(rows) == {"onnxruntime", "openvino-original"}
    peer = rows["openvino-original"]
    assert peer["median_ms"] > 0 and peer["speedup_vs_openvino_original"] == 1.0
    assert peer["memory"]["openvino_original_onnx"] == str(original_onnx.resolve())
    assert peer["peak_mem_mib"] is not None and peer["backend_held_mib"] > 0
    assert rows["onnxruntime"]["speedup_vs_openvino_original"] > 0
    assert any(t["target"] == ORIGINAL_TARGET and t["value"] is not None
               for t in report["targets"])
    assert [run["backend"] for run in report["stability"]] == ["onnxruntime"]  # not peers


def test_the_memory_child_imports_openvino_before_its_baseline():
    pytest.importorskip("openvino")
    code = ("import sys; from fuse_trt.bench.memory import _preload; "
            "_preload('openvino-original'); print('openvino' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "True", done.stderr


def test_an_original_with_other_channels_or_rank_names_the_tensor(tiny_bundle, tmp_path):
    spec = tiny_bundle.spec
    first, *others = spec.inputs

    def info(tensor, dims):
        return helper.make_tensor_value_info(tensor.name, TensorProto.FLOAT, dims)

    graph = helper.make_graph(
        [], "reshaped", [info(first, ["N", first.channels + 1, "H", "W"]),
                         *(info(t, list(t.shape(1, 8, 8))) for t in others)],
        [info(t, ["N", t.channels]) for t in spec.outputs])
    path = tmp_path / "reshaped.onnx"
    onnx.save(helper.make_model(graph), path)
    with pytest.raises(ModelContractError) as caught:
        check_original_onnx(path, spec)
    message = str(caught.value)
    assert f"{first.name!r} has {first.channels + 1} channels, expected " \
           f"{first.describe()}" in message
    output = spec.outputs[0]
    assert f"{output.name!r} has 2 dims, expected {output.describe()}" in message
    assert "missing" not in message and "\n" not in message
    check_original_onnx(tiny_bundle.artifact_path("onnx", "fp32"), spec)  # the bundle's fits
