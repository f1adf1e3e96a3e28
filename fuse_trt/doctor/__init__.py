"""`fuse-trt doctor`: what this machine can run, and why not the rest.

The default job (``fuse-trt fuse`` on ONNX Runtime with the shipped model) can run when no
finding marked ``required`` is a problem; TensorRT and the GPU are reported, never required.
"""
from __future__ import annotations

from dataclasses import dataclass

from fuse_trt.doctor.accelerator import (Accelerator, auto_choice_finding, gpu_findings,
                                         plan_findings, tensorrt_finding)
from fuse_trt.doctor.finding import Finding, Status
from fuse_trt.doctor.libraries import (bundle_finding, face_models_finding, fuse_trt_finding,
                                       onnxruntime_finding, opencv_finding, python_finding,
                                       torch_finding)
from fuse_trt.models import default_bundle_dir


@dataclass(frozen=True)
class DoctorReport:
    findings: tuple[Finding, ...]

    @property
    def default_job_runs(self) -> bool:
        return not any(finding.blocks_default_job for finding in self.findings)

    def lines(self) -> list[str]:
        verdict = ("the default job can run: fuse-trt fuse SOURCE TARGET -o OUT"
                   if self.default_job_runs else "the default job cannot run: fix the problems above")
        return [finding.line() for finding in self.findings] + [f"result: {verdict}"]


def run_doctor() -> DoctorReport:
    findings = [python_finding(), fuse_trt_finding(), onnxruntime_finding(), opencv_finding(),
                face_models_finding(), torch_finding()]
    trt_finding, compat = tensorrt_finding()
    gpus, gpu = gpu_findings()
    accelerator = Accelerator(tensorrt=compat, gpu=gpu)
    bundle_line, bundle = bundle_finding(default_bundle_dir())
    findings += [trt_finding, *gpus, bundle_line, *plan_findings(bundle, accelerator),
                 auto_choice_finding(bundle)]
    return DoctorReport(tuple(findings))


__all__ = ["DoctorReport", "Finding", "Status", "run_doctor"]
