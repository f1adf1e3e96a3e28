"""Write a benchmark report as JSON, a Markdown table and a PNG chart (matplotlib, Agg)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path


def _atomic_write(path: Path, write) -> Path:
    """``write(temp)`` then rename; like every fuse-trt output, the directory must exist."""
    from fuse_trt.engine.errors import FuseTrtError
    from fuse_trt.engine.files import check_output_file

    path = check_output_file(Path(path))
    temp = path.with_name(f".{path.name}.tmp")
    try:
        write(temp)
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise FuseTrtError(f"{path}: cannot write there ({error.strerror})") from error
    return path


def _plain(value):
    """JSON-safe: NaN/inf become None (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_json(report: dict, path: Path) -> Path:
    text = json.dumps(_plain(report), indent=2, sort_keys=False, allow_nan=False) + "\n"
    return _atomic_write(path, lambda temp: temp.write_text(text))


def _fmt(value, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}{suffix}"
    return f"{value}{suffix}"


def _ratio(value) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


TABLE_HEADER = ("| tier | backend | precision | median ms | p90 | p99 | CV | iters | "
                "fuse e2e ms | peak MiB | predicted MiB | speed-up vs torch | e2e speed-up | mem ratio | "
                "vs OpenVINO (same graph) | vs OpenVINO (original graph) | GFLOP/s (% GEMM) |")


def results_table(rows: list[dict]) -> list[str]:
    lines = [TABLE_HEADER, "|" + "---|" * (TABLE_HEADER.count("|") - 1)]
    for row in sorted(rows, key=lambda r: (r["tier"], r["backend"], r["precision"])):
        lines.append(
            f"| {row['tier']} | {row['backend']} | {row['precision']} | "
            f"{_fmt(row['median_ms'])} | {_fmt(row['p90_ms'])} | {_fmt(row['p99_ms'])} | "
            f"{_fmt(row['cv'], 3)} | {row['iterations']} | {_fmt(row['e2e_median_ms'])} | "
            f"{_fmt(row['peak_mem_mib'], 0)} | {_fmt(row.get('predicted_mib'), 0)} | "
            f"{_ratio(row['speedup_vs_torch'])} | "
            f"{_ratio(row['e2e_speedup_vs_torch'])} | {_ratio(row['mem_ratio_vs_torch'])} | "
            f"{_ratio(row.get('speedup_vs_openvino'))} | "
            f"{_ratio(row.get('speedup_vs_openvino_original'))} | "
            f"{_fmt(row['gflops'], 0)} ({_fmt(100 * row['gemm_fraction'], 0)}%) |")
    return lines


def _machine_lines(report: dict) -> list[str]:
    machine, gemm = report["machine"], report["gemm"]
    threads = machine["threads"]
    extensions = ", ".join(machine.get("cpu_extensions") or ["none listed"])
    return [
        f"- machine: {machine['cpu']} ({extensions}), {threads.get('physical_cores')} cores / "
        f"{threads.get('logical_cpus')} threads, GPU: {machine['gpu'] or 'none'}; "
        f"load average (1/5/15 min) at start {machine['load_average_start']}, at end "
        f"{machine.get('load_average_end')}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        f"- GEMM peak ({gemm['size']}x{gemm['size']} FP32, {gemm['library']}, "
        f"{gemm['threads']} threads): {gemm['gflops']:.0f} GFLOP/s (best of runs "
        + ", ".join(f"{g:.0f}" for g in gemm["runs_gflops"]) + ")",
        f"- reference for ratios: "
        + (f"{report['reference']['backend']} {report['reference']['precision']}"
           if report["reference"] else "none (torch not measured)"),
    ]


def _target_lines(report: dict) -> list[str]:
    lines = []
    for check in report["targets"]:
        mark = {True: "met", False: "MISSED", None: "n/a"}[check["met"]]
        tier = f" at {check['tier']}" if check["tier"] is not None else ""
        lines.append(f"- {check['target']}{tier}: {_fmt(check['value'], 2)} "
                     f"(bound {check['bound']}) **{mark}**")
    return lines


def _stability_lines(report: dict) -> list[str]:
    lines = []
    for run in report["stability"]:
        readings = ", ".join(f"{p['rss_mib']:.0f}" for p in run["phases"])
        peaks = ", ".join(f"{p['peak_rss_mib']:.0f}" for p in run["phases"][1:])
        verdict = "flat" if run["flat"] else "NOT flat"
        lines.append(f"- {run['backend']}/{run['precision']}: {run['fusions']} fusions over "
                     f"tiers {', '.join(run['tiers'])}; RSS MiB after warm-up and each phase: "
                     f"{readings}; peak RSS MiB in each phase: {peaks}; trend "
                     f"{_fmt(run['trend_mib'])} MiB, peak drift {_fmt(run['peak_drift_mib'])} "
                     f"MiB (tolerance {run['tolerance_mib']}) -> **{verdict}**")
    return lines


def to_markdown(report: dict) -> str:
    config = report["config"]
    lines = ["# fuse-trt benchmark", "",
             f"Model-only latency is `backend.infer` on a batch of {config['batch']} at the "
             "tier's short edge (square); fuse e2e is `FaceFusion.fuse` (detect + align + "
             "composite + UNet + paste, region=frame) on the sample photo sized to the tier. "
             "Peak MiB: peak RSS growth over the baseline in a fresh process per backend, "
             "precision and tier (load + inference); on a GPU, device memory growth. "
             "GFLOP/s counts the FP32 graph's Conv/Gemm FLOPs for every precision.", ""]
    if report.get("command"):
        lines.append(f"- command: `{report['command']}`")
    if report.get("int8"):
        lines.append(f"- INT8 artifact: {report['int8']}")
    lines += _machine_lines(report) + [""] + results_table(report["results"]) + [""]
    if report["targets"]:
        lines += ["## Targets", ""] + _target_lines(report) + [""]
    if report["stability"]:
        lines += ["## Stability", ""] + _stability_lines(report) + [""]
    for item in report["skipped"]:
        lines.append(f"- skipped {item['backend']}/{item['precision']}: {item['reason']}")
    for item in report["errors"]:
        lines.append(f"- ERROR in {item['phase']} {item['backend']}/{item['precision']}: "
                     f"{item['error']}")
    return "\n".join(lines).rstrip() + "\n"


def write_markdown(report: dict, path: Path) -> Path:
    text = to_markdown(report)
    return _atomic_write(path, lambda temp: temp.write_text(text))


def write_plot(report: dict, path: Path) -> Path:
    """Latency (model and end-to-end) and peak memory per tier, one bar per backend."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows = report["results"]
    tiers = sorted({row["tier"] for row in rows})
    labels = sorted({(row["backend"], row["precision"]) for row in rows})
    panels = [("median_ms", "model-only latency (ms)"), ("e2e_median_ms", "end-to-end fuse (ms)"),
              ("peak_mem_mib", "peak memory growth (MiB)")]
    figure, axes = pyplot.subplots(1, len(panels), figsize=(5 * len(panels), 4.2))
    width = 0.8 / max(len(labels), 1)
    for axis, (field, title) in zip(axes, panels):
        for index, label in enumerate(labels):
            values = [next((r[field] for r in rows if r["tier"] == tier
                            and (r["backend"], r["precision"]) == label), None) or 0.0
                      for tier in tiers]
            positions = [t + (index - (len(labels) - 1) / 2) * width for t in range(len(tiers))]
            axis.bar(positions, values, width, label="/".join(label))
        axis.set_xticks(range(len(tiers)), [str(t) for t in tiers])
        axis.set_xlabel("tier (short edge)")
        axis.set_title(title)
    axes[0].legend(fontsize="small")
    figure.suptitle(f"fuse-trt bench: {report['machine']['cpu']}"
                    + (f", GPU {report['machine']['gpu']}" if report["machine"]["gpu"] else ""))
    figure.tight_layout()

    def save(temp: Path) -> None:
        figure.savefig(temp, dpi=110, format="png")

    try:
        return _atomic_write(path, save)
    finally:
        pyplot.close(figure)
