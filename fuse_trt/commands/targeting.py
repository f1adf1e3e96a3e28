"""`--target-face REF` and `--map SOURCE=REF` for `fuse-trt fuse` and `fuse-trt stream`."""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import click

from fuse_trt.engine.faces.assignment import SFACE_SAME_PERSON

if TYPE_CHECKING:
    from fuse_trt.api import FaceFusion


def _check_map(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]):
    pairs = []
    for value in values:
        source, sep, reference = value.partition("=")
        if not sep or not source or not reference:
            raise click.BadParameter(f"expected SOURCE=REFERENCE, got {value!r}")
        pairs.append((source, reference))
    return tuple(pairs)


def targeting_options(command):
    options = [
        click.option("--target-face", default=None, metavar="REF",
                     help="Fuse only onto the target face most like the person in this photo "
                     "(SFace similarity at or above --similarity)."),
        click.option("--map", "mapping", multiple=True, callback=_check_map,
                     metavar="SOURCE=REF", help="Put the face of SOURCE on the person in REF; "
                     "repeat for several people. Replaces SOURCE/--source."),
        click.option("--similarity", type=click.FloatRange(-1.0, 1.0),
                     default=SFACE_SAME_PERSON, show_default=True,
                     help="With --target-face/--map: least SFace cosine similarity."),
    ]
    return functools.reduce(lambda wrapped, option: option(wrapped), reversed(options), command)


def apply_targeting(fusion: FaceFusion, source: str | None, target_face: str | None,
                    mapping: tuple[tuple[str, str], ...], similarity: float) -> None:
    """Set the source, a target face or a mapping on ``fusion`` from the CLI's values."""
    from fuse_trt.engine.errors import FuseTrtError
    from fuse_trt.engine.faces.samples import resolve_image_path
    from fuse_trt.commands.native_logs import native_messages_logged
    from fuse_trt.engine.images import read_image

    def load(spec: str):
        with native_messages_logged():
            return read_image(resolve_image_path(spec)).rgb

    if mapping and target_face:
        raise FuseTrtError("give --target-face or --map, not both")
    if mapping and source not in (None, "-"):
        raise FuseTrtError(f"with --map the sources come from the map; give - instead of "
                           f"the source {source!r}")
    if not mapping and source in (None, "-"):
        raise FuseTrtError("a source face is needed (or --map SOURCE=REF)")
    if mapping:
        fusion.set_mapping([(load(a), load(b)) for a, b in mapping], similarity)
        return
    fusion.set_source(load(source))
    if target_face:
        fusion.set_target_face(load(target_face), similarity)
