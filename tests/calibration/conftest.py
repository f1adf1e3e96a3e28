"""Fixtures for the calibration tests: one perturbed tiny bundle and cached tiny sets."""
from __future__ import annotations

import shutil

import pytest

from fuse_trt.calibration.cache import cached_samples
from fuse_trt.calibration.dataset import CalibrationConfig
from fuse_trt.engine.bundle import Bundle
from tests.conftest import make_tiny_bundle

TINY_CONFIG = CalibrationConfig(size=12)  # 3 tiers x 4 shapes: each (tier, shape) once


@pytest.fixture(scope="session")
def calibration_bundle_template(tmp_path_factory):
    """A tiny FusionUNet with every weight random (heads too), so INT8 error is real."""
    bundle, _ = make_tiny_bundle(tmp_path_factory.mktemp("calibration") / "template")
    return bundle


@pytest.fixture
def fresh_bundle(calibration_bundle_template, tmp_path) -> Bundle:
    """A private copy of the template bundle that a test may add artifacts to."""
    directory = tmp_path / "bundle"
    shutil.copytree(calibration_bundle_template.directory, directory)
    return Bundle.load(directory)


@pytest.fixture(scope="session")
def set_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("calibration-sets")


@pytest.fixture(scope="session")
def tiny_samples(calibration_bundle_template, set_cache):
    bundle = calibration_bundle_template
    return cached_samples(set_cache, bundle.spec, bundle.tiers, TINY_CONFIG, "calibration")


@pytest.fixture(scope="session")
def tiny_held_out(calibration_bundle_template, set_cache):
    bundle = calibration_bundle_template
    return cached_samples(set_cache, bundle.spec, bundle.tiers, TINY_CONFIG, "held_out")


@pytest.fixture(scope="session")
def int8_extra(set_cache):
    """Int8Options.from_cli keywords for the tiny sets (cached once per session), plus overrides."""
    def extra(**overrides) -> dict:
        return {"calibration_size": TINY_CONFIG.size, "calibration_dir": str(set_cache),
                **overrides}
    return extra
