"""Option callbacks shared by the commands: a bad value is a usage error (exit 2) everywhere."""
from __future__ import annotations

import math

import click

from fuse_trt.engine.choices import FaceChoice, values


def check_face_choice(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if value not in values(FaceChoice) and not value.isdigit():
        raise click.BadParameter(f"expected largest, all or an index, got {value!r}")
    return value


def check_finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if math.isnan(value):  # NaN passes click's range checks
        raise click.BadParameter("expected a number, got nan")
    return value
