"""Shared fixtures: tiny models and bundles generated in the test run (never downloaded)."""
from __future__ import annotations

import importlib.util
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from fuse_trt.engine.tiers import TierTable

TINY_TIER_EDGES = (32, 48, 64)


def tiny_tiers(stride: int = 16, max_batch: int = 4, region: str = "face") -> TierTable:
    return TierTable.from_short_edges(TINY_TIER_EDGES, stride=stride, region=region,
                                      max_batch=max_batch)


def perturbed_unet(config, seed: int = 0):
    """A FusionUNet whose every weight (zero-initialised heads included) is random, so
    backends and precisions produce outputs that differ from the identity."""
    import torch

    from fuse_trt.engine.unet import FusionUNet

    torch.manual_seed(seed)
    model = FusionUNet(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.1)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def make_tiny_bundle(directory: Path, config=None, seed: int = 0):
    """Export a perturbed tiny FusionUNet into a bundle directory with tiny tiers."""
    from fuse_trt.build_engine.bundle_builder import tool_versions
    from fuse_trt.build_engine.export import export_onnx
    from fuse_trt.engine.bundle import Bundle, Manifest
    from fuse_trt.engine.unet import TINY_UNET_CONFIG, save_fusion_unet

    config = config or TINY_UNET_CONFIG
    model = perturbed_unet(config, seed)
    spec = config.spec()
    directory.mkdir(parents=True, exist_ok=True)
    bundle = Bundle(directory, Manifest(spec=spec, tiers=tiny_tiers(spec.stride),
                                        unet_config=asdict(config), tools=tool_versions()))
    save_fusion_unet(model, directory / "weights.safetensors")
    bundle = bundle.add_artifact(directory / "weights.safetensors", "weights", "fp32", "torch")
    export_onnx(model, spec, directory / "model.onnx")
    return bundle.add_artifact(directory / "model.onnx", "onnx", "fp32"), model


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    bundle, _ = make_tiny_bundle(tmp_path_factory.mktemp("tiny-bundle"))
    return bundle


@pytest.fixture(scope="session")
def tiny_identity_bundle(tmp_path_factory):
    from fuse_trt.engine.unet import TINY_IDENTITY_UNET_CONFIG

    bundle, _ = make_tiny_bundle(tmp_path_factory.mktemp("tiny-identity-bundle"),
                                 TINY_IDENTITY_UNET_CONFIG)
    return bundle


def skimage_data(name: str) -> Path:
    """A photo that ships in scikit-image (an ``export`` extra, installed for the tests)."""
    spec = importlib.util.find_spec("skimage")
    assert spec is not None and spec.submodule_search_locations, "scikit-image is required"
    return Path(list(spec.submodule_search_locations)[0]) / "data" / name


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from fuse_trt.engine.faces import load_sample

    return load_sample("astronaut")


@pytest.fixture(scope="session")
def grace() -> np.ndarray:
    from fuse_trt.engine.faces import load_sample

    return load_sample("grace_hopper")


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    """skimage's grey cameraman as RGB: a three-quarter view (yaw above the profile threshold)."""
    grey = cv2.imread(str(skimage_data("camera.png")), cv2.IMREAD_GRAYSCALE)
    assert grey is not None
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
