"""The fusion options `fuse` and `stream` share, and the FusionConfig they make.

An option that would have no effect in the chosen configuration is a usage error (exit 2)
that names the conflict, never silently ignored.
"""
from __future__ import annotations

import functools
from pathlib import Path

import click
from click.core import ParameterSource

from fuse_trt.engine.choices import BackendName, Blend, Composite, Precision, Refine, values
from fuse_trt.engine.errors import ConfigError

UNET_OPTIONS = ("backend", "precision", "url", "region")  # what only matters when the UNet runs


def _face_choice(ctx: click.Context, param: click.Parameter, value: str):
    from fuse_trt.engine.faces.policy import parse_face_choice  # keeps --help light

    try:
        return parse_face_choice(value)  # the one check, shared with FusionConfig
    except ConfigError as error:
        raise click.BadParameter(str(error)) from None


def fusion_options(command):
    """--composite/--refine (and the deprecated --blend), --backend/--precision, --face,
    --allow-profile."""
    options = [
        click.option("--bundle", type=click.Path(path_type=Path), default=None,
                     help="Bundle from `fuse-trt build`; default: the model shipped in the "
                     "package."),
        click.option("--composite", type=click.Choice(values(Composite)), default=None,
                     help="The classical fusion: colour (LAB colour transfer + feathered "
                     "paste) or seamless (OpenCV Poisson blending).  [default: colour]"),
        click.option("--refine", type=click.Choice(values(Refine)), default=None,
                     help="unet: the bundle's UNet refines the composite (docs/quality.md); "
                     "none: the composite as is, no network.  [default: unet]"),
        click.option("--blend", type=click.Choice(values(Blend)), default=None,
                     help="Deprecated, kept for one release: classic = --composite colour "
                     "--refine none, unet = --refine unet, seamless = --composite seamless "
                     "--refine none."),
        click.option("--backend", type=click.Choice(values(BackendName)),
                     default=BackendName.AUTO.value, show_default=True,
                     help="Runs the UNet. auto: TensorRT on a GPU, else ONNX Runtime on CUDA, "
                     "else on CPU (-v says which and why)."),
        click.option("--precision", type=click.Choice(values(Precision)), default=None,
                     help="UNet precision.  [default: fp16 on TensorRT, fp32 otherwise]"),
        click.option("--url", default=None, metavar="HOST:PORT",
                     help="With --backend triton: the server (grpc://HOST:PORT for gRPC)."),
        click.option("--face", "face_choice", default="largest", show_default=True,
                     callback=_face_choice,
                     help="Which target faces: largest, all, or an index (largest first; "
                     "stills only)."),
        click.option("--allow-profile", is_flag=True,
                     help="Also fuse target faces turned past the yaw threshold (left "
                     "untouched by default), and accept a turned source face."),
    ]
    return functools.reduce(lambda wrapped, option: option(wrapped), reversed(options), command)


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user set option ``name`` (on the command line or from the environment)."""
    source = ctx.get_parameter_source(name)
    return source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def resolve_refinement(ctx: click.Context, blend: str | None, composite: str | None,
                       refine: str | None) -> tuple[Composite, Refine]:
    if blend is not None:
        if composite is not None or refine is not None:
            raise click.UsageError("--blend is the deprecated form of --composite and "
                                   "--refine; give one or the other")
        return Blend(blend).composite, Blend(blend).refine
    return Composite(composite or Composite.COLOUR), Refine(refine or Refine.UNET)


def check_unet_options(ctx: click.Context, refine: Refine) -> None:
    if refine != Refine.NONE:
        return
    ignored = [f"--{name}" for name in UNET_OPTIONS if name in ctx.params and given(ctx, name)]
    if ignored:
        verb, them = ("choose", "them") if len(ignored) > 1 else ("chooses", "it")
        raise click.UsageError(f"{' and '.join(ignored)} {verb} how the UNet runs, but "
                               f"--refine none runs no UNet; drop {them} or use --refine unet")


def fusion_config(ctx: click.Context, *, bundle: Path | None, composite: str | None,
                  refine: str | None, blend: str | None, backend: str, precision: str | None,
                  url: str | None, face_choice, allow_profile: bool, **more):
    """The FusionConfig the options ask for; conflicting options are a usage error."""
    from fuse_trt.api import FusionConfig

    composite, refine = resolve_refinement(ctx, blend, composite, refine)
    check_unet_options(ctx, refine)
    if url is not None and backend != BackendName.TRITON:
        raise click.UsageError("--url is the server of --backend triton; add --backend triton "
                               "or drop --url")
    unet = {"backend": backend, "precision": precision, "url": url} \
        if refine == Refine.UNET else {}
    return FusionConfig(bundle=bundle, composite=composite, refine=refine, face=face_choice,
                        allow_profile=allow_profile, **unet, **more)
