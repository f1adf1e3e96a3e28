"""Held-out evaluation on synthetic pairs: PSNR of every blend method against the original.

Pairs are made exactly as for training (``pairs.make_pair``) but from photos training never
saw: the face photos, with the mask on the detected face and the region the pipeline would
cut, and natural photos held out of training, with random face-shaped masks. The UNet runs
through a runtime backend on the bundle's ONNX (per precision), routed by the bundle's tiers.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from fuse_trt.training.images import FACE_PHOTOS, HELD_OUT_IMAGES, load_image
from fuse_trt.training.pairs import (Pair, PairConfig, make_pair, planar,
                                                  random_crop, random_landmarks)
from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import ArtifactKind
from fuse_trt.engine.faces import (FaceDetector, alpha_blend, fusion_region, naive_paste,
                                   seam_band, seamless_clone)
from fuse_trt.engine.fusion_input import from_planar
from fuse_trt.runtime.protocol import Backend

log = logging.getLogger("fuse_trt")

CLASSICAL_METHODS = ("naive paste", "seamlessClone", "colour transfer")
EVAL_PAIRS = PairConfig(size=384, crop_recolour=None)
RESAMPLED_LABEL = "colour transfer, resampled as on the UNet path"


@dataclass(frozen=True)
class EvalSettings:
    seed: int = 1234
    pairs_per_face: int = 8
    pairs_per_image: int = 12


@dataclass(frozen=True)
class Scores:
    """Mean PSNR (dB) over the pairs of one group, per region."""

    whole: float
    in_mask: float
    seam: float


def psnr(output: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None) -> float:
    """PSNR of uint8 images, over the pixels weighted by ``weight`` (HxW) if given."""
    error = (output.astype(np.float64) - target.astype(np.float64)) ** 2 / 255.0 ** 2
    if weight is None:
        mse = float(error.mean())
    else:
        mse = float((error * weight[:, :, None]).sum() / (3.0 * weight.sum() + 1e-12))
    return 10.0 * np.log10(1.0 / max(mse, 1e-12))


def scores(output: np.ndarray, pair: Pair) -> tuple[float, float, float]:
    mask = pair.inputs.mask
    return (psnr(output, pair.target), psnr(output, pair.target, mask),
            psnr(output, pair.target, seam_band(mask)))


def face_pairs(settings: EvalSettings, rng: np.random.Generator,
               smallest_region: int) -> Iterator[Pair]:
    """Pairs on the face photos: the pipeline's region around the detected face, mask on it."""
    detector = FaceDetector()
    for name in FACE_PHOTOS:
        image = load_image(name)
        faces = detector.detect(image)
        if not faces:
            log.warning("no face found in %s: left out of the face pairs", name)
            continue
        region = fusion_region(faces[0], image.shape[:2], min_size=smallest_region)
        crop = np.ascontiguousarray(region.crop(image))
        landmarks = region.offset_landmarks(faces[0].landmarks)
        for _ in range(settings.pairs_per_face):
            yield make_pair(crop, landmarks, rng, EVAL_PAIRS)


def natural_pairs(settings: EvalSettings, rng: np.random.Generator) -> Iterator[Pair]:
    """Pairs on the natural photos held out of training, with random face-shaped masks."""
    for name in HELD_OUT_IMAGES:
        image = load_image(name)
        for _ in range(settings.pairs_per_image):
            crop = random_crop(image, EVAL_PAIRS.size, rng)
            yield make_pair(crop, random_landmarks(EVAL_PAIRS.size, rng, EVAL_PAIRS), rng,
                            EVAL_PAIRS)


def classical_outputs(pair: Pair) -> dict[str, np.ndarray]:
    source, target, mask = pair.source, pair.target, pair.inputs.mask
    return {"naive paste": naive_paste(source, target, mask),
            "seamlessClone": seamless_clone(source, target, mask),
            "colour transfer": pair.inputs.composite}


def unet_refiner(bundle: Bundle, backend: Backend) -> Callable[[Pair], np.ndarray]:
    """Runs the UNet on one pair as the pipeline does: plan into a tier, infer, undo the plan."""
    def refine(pair: Pair) -> np.ndarray:
        plan = bundle.tiers.plan(*pair.target.shape[:2])
        inputs = pair.inputs
        feed = {"composite": planar(plan.apply(inputs.composite))[None],
                "mask": planar(plan.apply(inputs.mask[:, :, None]))[None],
                "context": planar(plan.apply(inputs.context))[None]}
        fused = backend.infer(plan.tier, feed)[backend.spec.output_names[0]][0]
        return alpha_blend(plan.undo(from_planar(fused)), pair.target, inputs.support)
    return refine


def resampled_composite(bundle: Bundle) -> Callable[[Pair], np.ndarray]:
    """The composite through the UNet path's resize-and-paste alone (what resampling costs)."""
    def resample(pair: Pair) -> np.ndarray:
        plan = bundle.tiers.plan(*pair.target.shape[:2])
        restored = plan.undo(plan.apply(pair.inputs.composite))
        return alpha_blend(restored, pair.target, pair.inputs.support)
    return resample


def evaluate_group(pairs: list[Pair], refiners: dict[str, Callable[[Pair], np.ndarray]]
                   ) -> tuple[dict[str, Scores], dict[str, float]]:
    """Mean scores per method, and per refiner the share of pairs it beats colour transfer on."""
    table: dict[str, list] = {}
    wins = {name: 0 for name in refiners}
    for pair in pairs:
        outputs = classical_outputs(pair)
        outputs.update({name: refine(pair) for name, refine in refiners.items()})
        for method, output in outputs.items():
            table.setdefault(method, []).append(scores(output, pair))
        for name in refiners:
            wins[name] += table[name][-1][1] > table["colour transfer"][-1][1]
    means = {method: Scores(*np.mean(rows, axis=0)) for method, rows in table.items()}
    return means, {name: count / len(pairs) for name, count in wins.items()}


def open_refiners(bundle: Bundle) -> tuple[dict[str, Callable[[Pair], np.ndarray]], list[Backend]]:
    """One UNet refiner per ONNX precision the bundle holds (fp32 first)."""
    from fuse_trt.runtime.select import open_backend

    refiners, backends = {RESAMPLED_LABEL: resampled_composite(bundle)}, []
    for precision in ("fp32", "fp16", "int8"):
        if bundle.manifest.find(ArtifactKind.ONNX, precision):
            backend = open_backend(bundle, "onnxruntime", precision).activate()
            backends.append(backend)
            refiners[unet_label(precision)] = unet_refiner(bundle, backend)
    return refiners, backends


def unet_label(precision: str) -> str:
    return "UNet" if precision == "fp32" else f"UNet {precision.upper()}"


def evaluate_synthetic(bundle: Bundle, settings: EvalSettings = EvalSettings()) -> dict:
    """{group: (scores per method, share of pairs each UNet beats colour transfer on)}."""
    rng = np.random.default_rng(settings.seed)
    groups = {"faces": list(face_pairs(settings, rng, bundle.tiers.first_tier_limit)),
              "held-out natural": list(natural_pairs(settings, rng))}
    refiners, backends = open_refiners(bundle)
    try:
        return {group: evaluate_group(pairs, refiners) for group, pairs in groups.items()}
    finally:
        for backend in backends:
            backend.close()
