import json

import click
import pytest

from fuse_trt.engine.choices import (ArtifactKind, BackendName, Blend, Composite, Precision,
                                     Refine, parse, values)
from fuse_trt.engine.errors import ConfigError


def test_members_are_their_strings_in_json_and_formatting():
    assert Precision.INT8 == "int8" and f"{BackendName.TENSORRT}" == "tensorrt"
    assert str(ArtifactKind.PLAN_SIDECAR) == "plan-sidecar"
    assert json.dumps({"p": Precision.FP16}) == '{"p": "fp16"}'


def test_parse_accepts_members_and_strings_and_names_the_choices_otherwise():
    assert parse(Precision, "fp16", "precision") is Precision.FP16
    assert parse(Precision, Precision.FP16, "precision") is Precision.FP16
    with pytest.raises(ConfigError, match=r"unknown precision 'int4'; choose one of fp32, fp16, "
                                          r"int8$"):
        parse(Precision, "int4", "precision")
    with pytest.raises(ConfigError, match="unknown backend"):
        parse(BackendName, ["auto"], "backend")


def test_the_deprecated_blend_splits_into_composite_and_refinement():
    assert [(b.composite, b.refine) for b in Blend] == [
        (Composite.COLOUR, Refine.NONE), (Composite.COLOUR, Refine.UNET),
        (Composite.SEAMLESS, Refine.NONE)]


def test_cli_choices_are_derived_from_the_enums():
    from fuse_trt.cli import cli

    fuse = cli.commands["fuse"]
    choices = {p.name: list(p.type.choices) for p in fuse.params
               if isinstance(p.type, click.Choice)}
    assert choices["backend"] == values(BackendName)
    assert choices["precision"] == values(Precision)
