"""`fuse-trt bench` end to end on a tiny model: every JSON field, the table and the chart."""
import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from fuse_trt.commands.bench import bench_command

REQUIRED_ROW_FIELDS = ("backend", "precision", "tier", "median_ms", "p90_ms", "p95_ms", "p99_ms",
                       "mean_ms", "cv", "iterations", "peak_mem_mib", "speedup_vs_torch",
                       "mem_ratio_vs_torch", "gflops")


@pytest.fixture(scope="module")
def bench_run(tiny_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    args = ["--bundle", tiny_bundle.directory, "--backends", "onnxruntime,torch",
            "--precisions", "fp32", "--tiers", "32,48", "--warmup-ms", "0", "--duration-s", "0",
            "--min-iters", "3", "--slice-ms", "1", "--stability-fusions", "4", "--quiet",
            "--json", out / "bench.json", "--markdown", out / "bench.md",
            "--plot", out / "bench.png"]
    result = CliRunner().invoke(bench_command, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, result.output, json.loads((out / "bench.json").read_text())


def test_json_has_every_field(bench_run):
    _, _, report = bench_run
    assert report["errors"] == [] and report["skipped"] == []
    assert report["machine"]["cpu"] and report["machine"]["threads"]["logical_cpus"] >= 1
    assert report["machine"]["load_average_start"] is not None
    assert {"fuse_trt", "onnxruntime", "numpy", "torch"} <= set(report["versions"])
    assert report["gemm"]["gflops"] > 0
    rows = report["results"]
    assert {(r["backend"], r["tier"]) for r in rows} == {
        ("onnxruntime", 32), ("onnxruntime", 48), ("torch", 32), ("torch", 48)}
    for row in rows:
        for name in REQUIRED_ROW_FIELDS:
            assert row[name] is not None, name
        assert row["iterations"] >= 3
        assert row["median_ms"] <= row["p90_ms"] <= row["p95_ms"] <= row["p99_ms"]
        assert row["e2e"]["iterations"] >= 3 and row["e2e_median_ms"] > 0
        assert row["e2e"]["frame_hw"][0] in (31, 48) and "includes_detection" in row["e2e"]
        assert row["peak_mem_mib"] > 0 and row["memory"]["peak_reset"] is True
        assert row["gflops"] == pytest.approx(
            row["flops"] / row["median_ms"] * 1e-6)
    torch_rows = [r for r in rows if r["backend"] == "torch"]
    assert all(r["speedup_vs_torch"] == 1.0 and r["mem_ratio_vs_torch"] == 1.0
               for r in torch_rows)


def test_ratios_are_against_torch_at_the_same_tier(bench_run):
    _, _, report = bench_run
    rows = {(r["backend"], r["tier"]): r for r in report["results"]}
    ort, ref = rows[("onnxruntime", 48)], rows[("torch", 48)]
    assert ort["speedup_vs_torch"] == pytest.approx(ref["median_ms"] / ort["median_ms"])
    assert ort["mem_ratio_vs_torch"] == pytest.approx(ort["peak_mem_mib"] / ref["peak_mem_mib"])
    targets = {t["target"] for t in report["targets"]}
    assert "ORT FP32 >= 2x faster than PyTorch eager" in targets


def test_stability_runs_every_fusion_and_reports_each_phase(bench_run):
    _, _, report = bench_run
    (run,) = report["stability"]  # ONNX Runtime only; torch is the reference
    assert run["backend"] == "onnxruntime" and run["fusions"] == 4
    assert run["phases"][-1]["fusions_done"] == 4 and len(run["phases"]) >= 2
    assert all(phase["rss_mib"] > 0 for phase in run["phases"])
    # The verdict recomputed from the phases it reports, by a second implementation: numpy's
    # least-squares line for the trend, the peak rise over the measured phases.
    measured = run["phases"][1:]
    done = np.array([phase["fusions_done"] for phase in measured], float)
    rss = np.array([phase["rss_mib"] for phase in measured])
    peaks = np.array([phase["peak_rss_mib"] for phase in measured])
    trend = np.polyfit(done, rss, 1)[0] * (done[-1] - done[0])
    assert run["trend_mib"] == pytest.approx(trend, abs=1e-6)
    assert run["peak_drift_mib"] == pytest.approx(peaks.max() - peaks[0])
    tolerance = run["tolerance_mib"]
    assert run["flat"] is bool(trend <= tolerance and peaks.max() - peaks[0] <= tolerance)


def test_markdown_and_png_are_written(bench_run):
    out, stdout, report = bench_run
    markdown = (out / "bench.md").read_text()
    assert "| tier | backend |" in markdown and markdown in stdout + "\n"
    assert markdown.count("| onnxruntime | fp32 |") == 2
    image = cv2.imread(str(out / "bench.png"))
    assert image is not None and image.shape[0] > 200 and image.shape[1] > 600
    assert image.std() > 5  # bars and text, not a blank canvas


def test_unknown_tier_is_one_user_error(tiny_bundle):
    result = CliRunner().invoke(bench_command, ["--bundle", str(tiny_bundle.directory),
                                                "--tiers", "999", "--quiet"])
    assert result.exit_code != 0
    assert "tiers [999] are not in the bundle" in str(result.exception)
