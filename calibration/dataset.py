"""The calibration set: real images made into UNet feeds at several shapes in every tier.

Every (tier, aspect) pair of the config is one shape: aspect 1 gives the tier's min/opt shape,
wide and tall aspects reach towards its max long edge. Jobs cycle over those pairs and
alternate face photos and natural images; each job draws from its own seeded generator, so
the set depends only on the config, the tiers and the images, never on order or timing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from fuse_trt.calibration.compact import compact, expand
from fuse_trt.calibration.images import ImageSource, Split, image_sources
from fuse_trt.calibration.samples import FacePhoto, face_prep, synthetic_prep, tier_feed
from fuse_trt.engine.spec import ModelSpec
from fuse_trt.engine.tiers import TierSpec, TierTable
from fuse_trt.engine.errors import FuseTrtError
from fuse_trt.engine.progress import Progress

log = logging.getLogger("fuse_trt")

_SPLIT_SEEDS = {"calibration": 0, "held_out": 1}


@dataclass(frozen=True)
class CalibrationConfig:
    size: int = 24  # calibration samples over all tiers
    seed: int = 0
    held_out_size: int | None = None  # None: two per tier
    aspects: tuple[float, ...] = (1.0, 1.5, 0.75, 1.9)  # W/H of the shapes in each tier

    def __post_init__(self) -> None:
        if self.size < 1 or (self.held_out_size is not None and self.held_out_size < 1):
            raise FuseTrtError("calibration and held-out sizes must be at least 1")
        if not self.aspects or any(not 0.5 <= aspect <= 2.0 for aspect in self.aspects):
            raise FuseTrtError(f"aspects must lie in 0.5..2 (the tiers' 2:1 limit), got "
                               f"{self.aspects}")

    def split_size(self, split: Split, tiers: TierTable) -> int:
        if split == "calibration":
            return self.size
        return self.held_out_size or 2 * len(tiers)


@dataclass(frozen=True)
class CalibrationSample:
    """One feed, held compactly (calibration.compact): uint8 images, float32 otherwise."""

    name: str  # image/tier/HxW
    tier: str
    stored: dict  # tensor name -> compact [1, C, H, W] (or [1, C] for vector inputs)

    @classmethod
    def from_feed(cls, name: str, tier: str, feed: dict) -> CalibrationSample:
        return cls(name, tier, {key: compact(array) for key, array in feed.items()})

    @property
    def feed(self) -> dict:
        """Tensor name -> float32 array, made on each access (only one sample's at a time)."""
        return {key: expand(array) for key, array in self.stored.items()}

    @property
    def shape(self) -> tuple[int, int]:
        first = next(array for array in self.stored.values() if array.ndim == 4)
        return tuple(first.shape[2:])


@dataclass(frozen=True)
class _Job:
    index: int
    tier: TierSpec
    aspect: float
    kind: str  # face or natural


def original_shape(tier: TierSpec, aspect: float, rng: np.random.Generator) -> tuple[int, int]:
    """An (H, W) that the tier table routes to ``tier`` with roughly this aspect.

    Scaling tiers get a short edge from their lower bound up to their own (never above it: the
    last tier would downscale with a warning) and a long edge at the aspect. Padding tiers get
    a short edge below theirs and a long edge at the aspect of *their* short edge, so wide
    shapes reach towards the profile's max after padding.
    """
    edge, ratio = tier.short_edge, max(aspect, 1.0 / aspect)
    if tier.scale_to_short_edge:
        short = int(rng.integers(tier.accepts_from, edge + 1))
        long = int(round(short * ratio))
    else:
        short = int(rng.integers(max(tier.accepts_from, int(0.75 * edge)), edge))
        long = int(round(edge * ratio))
    long = max(short, long)
    return (short, long) if aspect >= 1.0 else (long, short)


def _jobs(tiers: TierTable, config: CalibrationConfig, split: Split) -> list[_Job]:
    pairs = [(tier, aspect) for aspect in config.aspects for tier in tiers]
    size = config.split_size(split, tiers)
    if split == "calibration" and size < len(pairs):
        raise FuseTrtError(f"a calibration set of {size} cannot cover {len(tiers)} tiers x "
                           f"{len(config.aspects)} shapes; use --size {len(pairs)} or more")
    jobs = []
    for index in range(size):
        tier, aspect = pairs[index % len(pairs)]
        turn = index + index // len(pairs)  # each pair alternates kinds on its next visit
        jobs.append(_Job(index, tier, aspect, "face" if turn % 2 == 0 else "natural"))
    return jobs


class _ImagePool:
    """Loads each image once and detects each face once for one build."""

    def __init__(self, sources: tuple[ImageSource, ...]):
        from fuse_trt.engine.faces import FaceDetector

        self._sources = sources
        self._detector = FaceDetector()
        self._photos: dict[tuple[str, bool], FacePhoto | None] = {}
        self._images: dict[str, np.ndarray] = {}
        self._embeddings: dict[tuple, np.ndarray] = {}
        self._encoder = None

    def names(self, kind: str) -> list[str]:
        return [source.name for source in self._sources if source.kind == kind]

    def image(self, name: str) -> np.ndarray:
        if name not in self._images:
            source = next(source for source in self._sources if source.name == name)
            self._images[name] = source.load()
        return self._images[name]

    def photo(self, name: str, mirrored: bool = False) -> FacePhoto | None:
        key = (name, mirrored)
        if key not in self._photos:
            image = self.image(name)
            image = np.ascontiguousarray(image[:, ::-1]) if mirrored else image
            faces = self._detector.detect(image)
            if not faces:
                log.warning("calibration: no face found in %s; using it as a natural image", name)
            self._photos[key] = FacePhoto(name, image, faces[0]) if faces else None
        return self._photos[key]

    def embedding(self, photo: FacePhoto) -> np.ndarray:
        """The SFace identity of a source photo, for models with an identity input."""
        from fuse_trt.engine.faces import IdentityEncoder

        key = (photo.name, photo.face.box)
        if key not in self._embeddings:
            self._encoder = self._encoder or IdentityEncoder()
            self._embeddings[key] = self._encoder.embed(photo.image, photo.face.landmarks)
        return self._embeddings[key]


def _pick(names: list[str], rng: np.random.Generator) -> str:
    return names[int(rng.integers(len(names)))] if names else ""


def _face_job(pool: _ImagePool, shape: tuple[int, int], rng: np.random.Generator):
    """(image name, prep, source photo); None when no face photo of the split has a face."""
    faces = pool.names("face")
    target = pool.photo(_pick(faces, rng)) if faces else None
    if target is None:
        return None
    others = [name for name in faces if name != target.name]
    source = pool.photo(_pick(others, rng)) if others else None
    source = source or pool.photo(target.name, mirrored=True) or target
    return target.name, face_prep(target, source, shape, rng), source


def _build_one(pool: _ImagePool, job: _Job, spec: ModelSpec, tiers: TierTable,
               rng: np.random.Generator) -> CalibrationSample:
    shape = original_shape(job.tier, job.aspect, rng)
    made = _face_job(pool, shape, rng) if job.kind == "face" else None
    if made is not None:
        name, prep, source = made
        wants_identity = any(tensor.layout == "vector" for tensor in spec.inputs)
        embedding = pool.embedding(source) if wants_identity else None
    else:
        name = _pick(pool.names("natural"), rng) or _pick(pool.names("face"), rng)
        prep, embedding = synthetic_prep(pool.image(name), shape, rng), None
    tier_name, feed = tier_feed(prep, tiers, spec, rng, embedding)
    if tier_name != job.tier.name:
        raise AssertionError(f"shape {shape} planned into tier {tier_name}, not {job.tier.name}")
    height, width = feed[spec.input_names[0]].shape[2:]
    return CalibrationSample.from_feed(f"{name}/{tier_name}/{height}x{width}", tier_name, feed)


def build_samples(spec: ModelSpec, tiers: TierTable,
                  config: CalibrationConfig = CalibrationConfig(), split: Split = "calibration",
                  progress: Progress | None = None) -> list[CalibrationSample]:
    """The calibration (or held-out) samples for ``spec`` and ``tiers``; deterministic."""
    pool = _ImagePool(image_sources(split))
    jobs = _jobs(tiers, config, split)
    samples = []
    for job in (progress or iter)(jobs):
        rng = np.random.default_rng([config.seed, _SPLIT_SEEDS[split], job.index])
        samples.append(_build_one(pool, job, spec, tiers, rng))
    log.info("built %d %s samples over tiers %s", len(samples), split, tiers.names())
    return samples
