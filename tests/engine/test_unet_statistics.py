"""The colour head's statistics against naive per-sector, per-image references."""
import math

import numpy as np
import torch
from hypothesis import given, settings, strategies as st

from fuse_trt.engine.unet import _sector_means, _sectors, apply_colour, COLOUR_PARAMS


def _naive_sector_means(image: np.ndarray, weight: np.ndarray, sectors: np.ndarray) -> np.ndarray:
    """[N, C * K] channel-major, one weighted mean per image, channel and sector, in float64."""
    batch, channels = image.shape[:2]
    out = np.zeros((batch, channels, sectors.shape[1]))
    for n in range(batch):
        for k in range(sectors.shape[1]):
            w = weight[n, 0] * sectors[n, k]
            for c in range(channels):
                out[n, c, k] = (image[n, c] * w).sum() / w.sum() if w.sum() > 0 else 0.0
    return out.reshape(batch, -1)


@settings(max_examples=25, deadline=None)
@given(height=st.integers(1, 9), width=st.integers(1, 9), batch=st.integers(1, 2),
       channels=st.lists(st.integers(1, 3), min_size=1, max_size=4),
       count=st.integers(1, 5), seed=st.integers(0, 2 ** 16))
def test_sector_means_are_the_weighted_mean_per_image_channel_and_sector(
        height, width, batch, channels, count, seed):
    rng = np.random.default_rng(seed)
    images = [rng.random((batch, c, height, width)) for c in channels]
    weight = rng.random((batch, 1, height, width))
    sectors = rng.random((batch, count, height, width))
    sectors[:, -1] *= 1e-3  # a faint sector still has its mean
    sectors[:, 0] = 0.0  # an empty sector's mean is 0, not NaN
    got = _sector_means([torch.from_numpy(i) for i in images], torch.from_numpy(weight),
                        torch.from_numpy(sectors))
    assert len(got) == len(images)
    for image, means in zip(images, got):
        np.testing.assert_allclose(means.numpy(), _naive_sector_means(image, weight, sectors),
                                   rtol=1e-9, atol=1e-12)


def test_sector_means_stay_finite_in_float16_at_the_largest_tier():
    # Sums of a full 1024 x 1024 product would be 2^20, past float16's 65504.
    side = 1024
    image = torch.ones(1, 3, side, side, dtype=torch.float16)
    weight = torch.ones(1, 1, side, side, dtype=torch.float16)
    sectors = torch.ones(1, 2, side, side, dtype=torch.float16)
    (means,) = _sector_means([image], weight, sectors)
    assert means.dtype == torch.float16
    torch.testing.assert_close(means.float(), torch.ones(1, 6), rtol=1e-3, atol=1e-3)


@settings(max_examples=25, deadline=None)
@given(count=st.integers(1, 8), seed=st.integers(0, 2 ** 16))
def test_sectors_are_squared_cosines_of_the_angle_to_each_direction(count, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, 1, 1, 5, 4))
    got = _sectors(torch.from_numpy(a), torch.from_numpy(b), count).numpy()
    angle = np.arctan2(b, a)
    radius2 = a * a + b * b
    for k in range(count):
        expected = np.maximum(np.cos(angle - 2 * math.pi * k / count), 0.0) ** 2
        np.testing.assert_allclose(got[:, k:k + 1], expected * radius2 / (radius2 + 1e-6),
                                   atol=1e-9)


def test_apply_colour_tone_curve_is_a_power_per_channel():
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.random((2, 3, 6, 5)))
    image[:, :, 0, 0] = 1e-6  # the tone curve's floor, 1e-4
    gamma = np.array([[0.5, 1.0, 2.0], [1.5, 0.8, 3.0]])
    params = torch.zeros(2, COLOUR_PARAMS, dtype=torch.float64)
    params[:, 12:15] = torch.from_numpy(np.log(gamma))
    zeros = torch.zeros(2, 1, 6, 5, dtype=torch.float64)
    got = apply_colour(image, params, zeros, zeros)
    expected = np.clip(image.numpy(), 1e-4, 1.0) ** gamma[:, :, None, None]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
