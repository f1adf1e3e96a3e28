"""pytest fixtures shared by the TensorRT runtime and builder tests."""
from __future__ import annotations

import pytest

from fuse_trt.engine.spec import FUSION_SPEC, IDENTITY_FUSION_SPEC
from tests.conftest import tiny_tiers
from tests.support.tensorrt import VERSIONS, emulate

SPECS = {spec.name: spec for spec in (FUSION_SPEC, IDENTITY_FUSION_SPEC)}
NEWEST_10X = "10.16.1.11"


@pytest.fixture
def tiers():
    """Frame tiers: landscape profiles, so shapes vary in one axis within a tier."""
    return tiny_tiers(region="frame")


@pytest.fixture(params=VERSIONS)
def emulated(request, monkeypatch):
    """Each TensorRT version in turn, installed with a fresh fake GPU."""
    return emulate(request.param).install(monkeypatch)


@pytest.fixture
def trt10(monkeypatch):
    return emulate(NEWEST_10X).install(monkeypatch)
