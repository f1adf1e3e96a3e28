"""Option callbacks shared by the commands: a bad value is a usage error (exit 2) everywhere."""
from __future__ import annotations

import math

import click


def check_finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if math.isnan(value):  # NaN passes click's range checks
        raise click.BadParameter("expected a number, got nan")
    return value
