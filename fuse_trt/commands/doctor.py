"""`fuse-trt doctor`: exit 0 when the default job can run here, 1 otherwise."""
from __future__ import annotations

import sys

import click


@click.command("doctor")
def doctor_command() -> None:
    """Say what this machine can run and why not: libraries, TensorRT, CUDA and GPUs, the
    default bundle, cached plans, and the backend `auto` picks."""
    from fuse_trt.doctor import run_doctor

    report = run_doctor()
    for line in report.lines():
        click.echo(line)
    if not report.default_job_runs:
        sys.exit(1)
