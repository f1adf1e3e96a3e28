"""The colour head's measurements are tied to the face, not to the image's size or framing."""
import cv2
import numpy as np
import torch

from fuse_trt.training.images import load_image
from fuse_trt.training.pairs import make_pair, pair_arrays
from fuse_trt.engine.faces import ARCFACE_TEMPLATE_112
from fuse_trt.engine.unet import DEFAULT_UNET_CONFIG, colour_features, face_frame


def _inputs(size: int, scale: float):
    image = cv2.resize(load_image("coffee")[50:350, 150:450], (size, size),
                       interpolation=cv2.INTER_AREA)
    landmarks = (ARCFACE_TEMPLATE_112 - 56.0) * scale * size / 112.0 + size / 2.0
    pair = make_pair(image, landmarks.astype(np.float32), np.random.default_rng(0))
    return {k: torch.from_numpy(v[None]) for k, v in pair_arrays(pair).items()}


def test_face_frame_whitens_the_mask():
    feed = _inputs(128, 0.5)
    a, b = face_frame(feed["mask"])
    weight = feed["mask"] / feed["mask"].sum()
    for value in ((a * weight).sum(), (b * weight).sum(), (a * b * weight).sum()):
        assert abs(float(value)) < 0.02
    for value in ((a * a * weight).sum(), (b * b * weight).sum()):
        assert abs(float(value) - 1.0) < 0.05


def test_colour_features_hardly_change_with_resolution():
    count = DEFAULT_UNET_CONFIG.sectors
    small, large = _inputs(160, 0.5), _inputs(480, 0.5)
    features = [colour_features(f["composite"], f["mask"], f["context"], *face_frame(f["mask"]),
                                count) for f in (small, large)]
    assert features[0].shape == (1, DEFAULT_UNET_CONFIG.colour_features)
    assert float((features[0] - features[1]).abs().mean()) < 0.05
