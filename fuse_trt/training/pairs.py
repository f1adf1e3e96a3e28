"""Self-supervised fusion pairs: an image whose face-shaped region was replaced by a recoloured,
relit, slightly degraded copy of itself, then put through the classical front end exactly as
inference does. The network's task is to give the original image back.

No geometric warp is applied: no method can undo one, so it would only add noise to the
in-mask loss.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from fuse_trt.engine.faces import ARCFACE_TEMPLATE_112
from fuse_trt.engine.fusion_input import ClassicalInputs, classical_inputs, face_size
from fuse_trt.engine.spec import FUSION_SPEC

TEMPLATE_CENTRE_112 = np.array([56.0, 70.0])


@dataclass(frozen=True)
class PerturbConfig:
    """Spread of each colour/illumination change (normal sigmas unless named max)."""

    gamma: float = 0.2  # log-gamma of the tone curve (per channel: a third of it)
    saturation: float = 0.3  # log-saturation
    greyscale: float = 0.15  # probability of a grey copy (a black-and-white photo)
    white_balance: float = 0.1  # log-gain per channel
    mix: float = 0.03  # off-identity entries of a 3x3 colour matrix
    gain: float = 0.25  # log-exposure
    contrast: float = 0.2  # log-contrast about the mean
    bias: float = 0.03
    shading: float = 0.8  # log-illumination slope per face size (multiplicative ramp)
    tint_ramp: float = 0.05  # additive per-channel slope per face size
    blur_max: float = 1.0  # Gaussian sigma in px, applied to half of the pairs
    noise_max: float = 0.01


# Training crops are recoloured as a whole first, so that a few photos do not teach the colour
# head what "the right colours" of each photo are (it memorised them otherwise).
CROP_RECOLOUR = PerturbConfig(gamma=0.3, saturation=0.4, greyscale=0.1, white_balance=0.15,
                              mix=0.05, gain=0.3, contrast=0.25, bias=0.04)


@dataclass(frozen=True)
class PairConfig:
    size: int = 128  # side of a training crop
    crop_recolour: PerturbConfig | None = CROP_RECOLOUR
    face_fraction: tuple[float, float] = (0.3, 0.75)  # template box side / crop side
    max_roll_degrees: float = 20.0
    perturb: PerturbConfig = field(default_factory=PerturbConfig)


@dataclass(frozen=True)
class Pair:
    target: np.ndarray  # uint8 ground truth: the original image
    source: np.ndarray  # uint8 perturbed copy (the "source face", already aligned)
    inputs: ClassicalInputs


def random_landmarks(size: int, rng: np.random.Generator, config: PairConfig) -> np.ndarray:
    """Five ArcFace-template landmarks moved by a random similarity into a ``size`` crop."""
    scale = rng.uniform(*config.face_fraction) * size / 112.0
    angle = np.deg2rad(rng.uniform(-config.max_roll_degrees, config.max_roll_degrees))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = rng.uniform(0.35, 0.65, size=2) * size
    points = (ARCFACE_TEMPLATE_112 - TEMPLATE_CENTRE_112) @ rotation.T * scale + centre
    return points.astype(np.float32)


def face_coordinates(shape_hw: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """(2, H, W) x and y relative to the face centre, in units of the face size."""
    centre = np.asarray(landmarks, dtype=np.float64).mean(axis=0)
    grid_y, grid_x = np.mgrid[0:shape_hw[0], 0:shape_hw[1]].astype(np.float32)
    size = face_size(landmarks)
    return np.stack([(grid_x - centre[0]) / size, (grid_y - centre[1]) / size])


def _saturation_matrix(rng: np.random.Generator, config: PerturbConfig) -> np.ndarray:
    grey = np.full((3, 3), 1.0 / 3.0)
    factor = 0.0 if rng.random() < config.greyscale else np.exp(rng.normal(0.0, config.saturation))
    return grey + factor * (np.eye(3) - grey)


def _recolour(image: np.ndarray, rng: np.random.Generator, config: PerturbConfig) -> np.ndarray:
    gamma = np.exp(rng.normal(0.0, config.gamma) + rng.normal(0.0, config.gamma / 3, 3))
    toned = np.power(np.clip(image, 1e-4, 1.0), gamma)
    matrix = np.eye(3) + rng.normal(0.0, config.mix, (3, 3))
    matrix = np.diag(np.exp(rng.normal(0.0, config.white_balance, 3))) @ matrix
    mixed = toned @ (matrix @ _saturation_matrix(rng, config)).T
    mean = mixed.mean(axis=(0, 1))
    contrasted = (mixed - mean) * np.exp(rng.normal(0.0, config.contrast)) + mean
    return contrasted * np.exp(rng.normal(0.0, config.gain)) + rng.normal(0.0, config.bias, 3)


def _relight(image: np.ndarray, coords: np.ndarray, rng: np.random.Generator,
             config: PerturbConfig) -> np.ndarray:
    slope = rng.normal(0.0, config.shading, 2)
    shading = np.exp(slope[0] * coords[0] + slope[1] * coords[1])[:, :, None]
    tint = rng.normal(0.0, config.tint_ramp, (2, 3))
    ramp = coords[0][:, :, None] * tint[0] + coords[1][:, :, None] * tint[1]
    return image * shading + ramp


def _degrade(image: np.ndarray, rng: np.random.Generator, config: PerturbConfig) -> np.ndarray:
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, config.blur_max))
    return image + rng.normal(0.0, rng.uniform(0.0, config.noise_max), image.shape)


def perturb(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
            config: PerturbConfig = PerturbConfig()) -> np.ndarray:
    """A recoloured, relit (ramps centred on the face), slightly blurred and noisy copy (uint8)."""
    coords = face_coordinates(image.shape[:2], landmarks)
    changed = _recolour(image.astype(np.float32) / 255.0, rng, config)
    changed = _degrade(_relight(changed, coords, rng, config).astype(np.float32), rng, config)
    return np.clip(np.rint(changed * 255.0), 0, 255).astype(np.uint8)


def make_pair(target: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
              config: PairConfig = PairConfig()) -> Pair:
    source = perturb(target, landmarks, rng, config.perturb)
    return Pair(target=target, source=source, inputs=classical_inputs(source, target, landmarks))


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A square crop of random scale and place, resized to ``size``, flipped half the time."""
    short = min(image.shape[:2])
    side = int(rng.integers(min(size, short), short + 1))
    y0 = int(rng.integers(0, image.shape[0] - side + 1))
    x0 = int(rng.integers(0, image.shape[1] - side + 1))
    crop = image[y0:y0 + side, x0:x0 + side]
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop[:, ::-1]) if rng.random() < 0.5 else crop


def random_pair(images: list[np.ndarray], rng: np.random.Generator,
                config: PairConfig = PairConfig()) -> Pair:
    image = images[int(rng.integers(len(images)))]
    crop = random_crop(image, config.size, rng)
    if config.crop_recolour is not None:
        recoloured = _recolour(crop.astype(np.float32) / 255.0, rng, config.crop_recolour)
        crop = np.clip(np.rint(recoloured * 255.0), 0, 255).astype(np.uint8)
    return make_pair(crop, random_landmarks(config.size, rng, config), rng, config)


def pair_batch(pairs: list[Pair]) -> dict[str, np.ndarray]:
    """The network's inputs (as the spec feeds them) and the ground truth ``target``."""
    batch = FUSION_SPEC.feed([pair.inputs.images for pair in pairs])
    batch["target"] = FUSION_SPEC.outputs[0].batch([pair.target for pair in pairs])
    return batch


def pair_arrays(pair: Pair) -> dict[str, np.ndarray]:
    """One pair's inputs and ground truth, CxHxW float32 each."""
    return {name: array[0] for name, array in pair_batch([pair]).items()}


def random_batch(images: list[np.ndarray], rng: np.random.Generator, batch_size: int,
                 config: PairConfig = PairConfig()) -> dict[str, np.ndarray]:
    return pair_batch([random_pair(images, rng, config) for _ in range(batch_size)])
