"""Range-audit samples: the bundled face photos (and one natural image) made into UNet feeds at
each tier's *max* shape, where image-wide statistics are largest.

Each face photo is the target once, with the other photo as the source, through the same
inference face path as calibration (``face_prep``); a natural image with a large synthetic
face-like mask covers a face that fills most of the region. Statistics of the UNet are per
image, so batch 1 measures what batch ``max_batch`` would.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fuse_trt.calibration.images import image_sources
from fuse_trt.calibration.samples import FacePhoto, face_prep, synthetic_prep
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierTable

AUDIT_NATURAL_IMAGE = "coffee"


def _feed(prep, spec: ModelSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A batch of one at the prep's own (the tier's max) shape; vector inputs random unit."""
    sample = dict(prep.images)
    for tensor in spec.vector_inputs:
        vector = rng.standard_normal(tensor.channels).astype(np.float32)
        sample[tensor.name] = vector / np.linalg.norm(vector)
    return spec.feed([sample])


def _face_photos() -> list[FacePhoto]:
    from fuse_trt.engine.faces import SAMPLE_NAMES, FaceDetector, load_sample

    detector, photos = FaceDetector(), []
    for name in SAMPLE_NAMES:
        image = load_sample(name)
        faces = detector.detect(image)
        if faces:
            photos.append(FacePhoto(name, image, faces[0]))
    return photos


def _natural_image() -> np.ndarray:
    source = next(s for s in image_sources("calibration") if s.name == AUDIT_NATURAL_IMAGE)
    return source.load()


@dataclass(frozen=True)
class PhotoRangeSamples:
    """Injected into the build (``BuildConfig.range_samples``): {tier: feeds at its max shape}."""

    seed: int = 0
    natural: bool = True

    def __call__(self, spec: ModelSpec, tiers: TierTable) -> dict[str, list[dict]]:
        photos, natural = _face_photos(), _natural_image() if self.natural else None
        samples = {}
        for index, tier in enumerate(tiers):
            rng = np.random.default_rng([self.seed, index])
            feeds = [_feed(face_prep(target, source, tier.max_shape, rng), spec, rng)
                     for target, source in zip(photos, photos[1:] + photos[:1])]
            if natural is not None:
                feeds.append(_feed(synthetic_prep(natural, tier.max_shape, rng), spec, rng))
            samples[tier.name] = feeds
        return samples
