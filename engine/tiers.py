"""Resolution tiers: which optimization profile an image goes to, and how it is shaped to fit.

The rule (from the seed): an image whose short edge is below 512 is reflect-padded up to
512 without interpolation; a short edge of 512..1023 is scaled to 768; 1024 and above is
scaled down to 1024 with a warning. H and W are then padded up to the model stride.

Profiles are sized to what this planner sends, which depends on the region mode:

- ``face`` (the default): the UNet sees a face's fusion region, a square around the face
  box that :func:`fusion_region` keeps square when the frame clips it. Every face tier is
  therefore square, min = max = (S, S) for short edge S: a region that is not square (only a
  face larger than the frame's short side makes one) is scaled until its long edge fits and
  padded back to S. ``benchmarks/region_aspect.py`` measures the bound: over YuNet's boxes
  on the bundled photos and 1500 swept boxes (frames 480p..4K both ways, faces 3..100% of
  the short side, at centre, edge and corner), regions are square apart from first-tier
  ones (aspect <= 1.07, a frame shorter than the 511 px minimum region), and none loses
  resolution to the square tiers; the old per-axis cut reached 16:9.
- ``frame``: the UNet sees whole frames up to 16:9. Portrait frames are transposed to
  landscape before the pass and back after it (``TierPlan.transposed``), so one landscape
  profile per tier, (S, S)..(S, 16/9 S), covers both orientations at the volume of one.

Any image whose long edge would exceed the tier's after scaling is scaled down further and
its short edge padded back up. So any (H, W) lands in exactly one tier and inside that tier's
profile; un-planning crops the padding, resizes back and undoes a transpose.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

log = logging.getLogger("fuse_trt")

Shape2D = tuple[int, int]
REGION_MODES = ("face", "frame")
MAX_ASPECT = {"face": 1.0, "frame": 16 / 9}


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@dataclass(frozen=True)
class TierSpec:
    """One resolution tier and its TensorRT optimization profile over (H, W).

    ``min_shape``/``opt_shape``/``max_shape`` bound the spatial dims of every image input;
    the batch axis is bounded separately by ``max_batch``.
    """

    name: str
    short_edge: int
    accepts_from: int  # smallest original short edge routed here
    accepts_below: int | None  # first original short edge routed to the next tier
    scale_to_short_edge: bool  # False: pad only (no interpolation)
    min_shape: Shape2D
    opt_shape: Shape2D
    max_shape: Shape2D
    max_batch: int = 4
    opt_batch: int = 1

    def accepts(self, short_edge: int) -> bool:
        upper_ok = self.accepts_below is None or short_edge < self.accepts_below
        return short_edge >= self.accepts_from and upper_ok

    def contains(self, height: int, width: int) -> bool:
        """True if (height, width) lies inside this tier's profile."""
        (min_h, min_w), (max_h, max_w) = self.min_shape, self.max_shape
        return min_h <= height <= max_h and min_w <= width <= max_w

    def batch_shapes(self, batch: int | None = None) -> dict[str, tuple[int, int, int]]:
        """(batch, H, W) for the profile's min, opt and max."""
        return {
            "min": (1, *self.min_shape),
            "opt": (self.opt_batch, *self.opt_shape),
            "max": (batch or self.max_batch, *self.max_shape),
        }


@dataclass(frozen=True)
class TierPlan:
    """How one image was fitted into a tier, and enough to undo it."""

    tier: TierSpec
    original_shape: Shape2D
    scaled_shape: Shape2D
    planned_shape: Shape2D  # scaled + padding, a stride multiple inside the tier profile
    transposed: bool = False  # a portrait frame turned landscape; scaled/planned are turned

    @property
    def pad_bottom_right(self) -> Shape2D:
        return (self.planned_shape[0] - self.scaled_shape[0],
                self.planned_shape[1] - self.scaled_shape[1])

    def apply(self, image: np.ndarray, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
        """(Transpose,) resize and reflect-pad an HxW[xC] image to ``planned_shape``."""
        resized = image.swapaxes(0, 1) if self.transposed else image
        if self.scaled_shape != resized.shape[:2]:
            height, width = self.scaled_shape
            resized = cv2.resize(image, (width, height), interpolation=interpolation)
            if image.ndim == 3 and resized.ndim == 2:
                resized = resized[:, :, None]
        pad_h, pad_w = self.pad_bottom_right
        if pad_h == 0 and pad_w == 0:
            return resized
        padded = cv2.copyMakeBorder(resized, 0, pad_h, 0, pad_w, cv2.BORDER_REFLECT)
        if resized.ndim == 3 and padded.ndim == 2:
            padded = padded[:, :, None]
        return padded

    def undo(self, planned: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """Crop the padding, resize back and transpose back to ``original_shape``."""
        height, width = self.scaled_shape
        cropped = planned[:height, :width]
        turned = self.original_shape[::-1] if self.transposed else self.original_shape
        restored = cropped
        if self.scaled_shape != turned:
            restored = cv2.resize(cropped, (turned[1], turned[0]), interpolation=interpolation)
            if cropped.ndim == 3 and restored.ndim == 2:
                restored = restored[:, :, None]
        return np.ascontiguousarray(restored.swapaxes(0, 1)) if self.transposed else restored


@dataclass(frozen=True)
class TierTable:
    """The ordered tiers a model is built for. Every (H, W) >= 1 maps to exactly one.

    ``region`` says what the planner is sent (see the module docstring): ``frame`` tables
    plan portrait images transposed.
    """

    tiers: tuple[TierSpec, ...]
    stride: int
    region: str = "face"

    def __post_init__(self):
        if self.region not in REGION_MODES:
            raise ValueError(f"region must be one of {REGION_MODES}, got {self.region!r}")

    @classmethod
    def from_short_edges(cls, short_edges: tuple[int, ...] = (512, 768, 1024), stride: int = 16,
                         region: str = "face", max_batch: int = 4) -> TierTable:
        """Build the seed's table: the first tier pads, the others scale.

        The first tier takes short edges below its own; the second takes everything from
        there up to (not including) the third tier's short edge; each later tier takes from
        its own short edge up. For (512, 768, 1024): <512, 512..1023, >=1024. Profiles are
        (S, S) for face regions and (S, S)..(S, 16/9 S) landscape for frames.
        """
        if any(edge % stride for edge in short_edges):
            raise ValueError(f"tier short edges {short_edges} must be multiples of stride {stride}")
        if region not in MAX_ASPECT:
            raise ValueError(f"region must be one of {REGION_MODES}, got {region!r}")
        lower_bounds = (0, *short_edges[:1], *short_edges[2:])
        tiers = []
        for index, edge in enumerate(short_edges):
            long_edge = _round_up(math.ceil(edge * MAX_ASPECT[region]), stride)
            upper = lower_bounds[index + 1] if index + 1 < len(short_edges) else None
            tiers.append(TierSpec(
                name=str(edge), short_edge=edge, accepts_from=lower_bounds[index],
                accepts_below=upper, scale_to_short_edge=index > 0,
                min_shape=(edge, edge), opt_shape=(edge, edge), max_shape=(edge, long_edge),
                max_batch=max_batch))
        return cls(tiers=tuple(tiers), stride=stride, region=region)

    def to_json(self) -> dict:
        return {"stride": self.stride, "region": self.region,
                "tiers": [asdict(tier) for tier in self.tiers]}

    @classmethod
    def from_json(cls, data: dict) -> TierTable:
        tiers = []
        for fields in data["tiers"]:
            shapes = {key: tuple(fields[key]) for key in ("min_shape", "opt_shape", "max_shape")}
            tiers.append(TierSpec(**{**fields, **shapes}))
        return cls(tiers=tuple(tiers), stride=int(data["stride"]),
                   region=data.get("region", "face"))

    def __iter__(self):
        return iter(self.tiers)

    def __len__(self) -> int:
        return len(self.tiers)

    def by_name(self, name: str | int) -> TierSpec:
        for tier in self.tiers:
            if tier.name == str(name):
                return tier
        raise KeyError(f"no tier {name!r}; tiers are {[t.name for t in self.tiers]}")

    @property
    def first_tier_limit(self) -> int:
        """The largest short edge that still lands in the first tier."""
        first = self.tiers[0]
        return (first.accepts_below or first.short_edge + 1) - 1

    def names(self) -> list[str]:
        return [tier.name for tier in self.tiers]

    def select(self, height: int, width: int) -> TierSpec:
        short_edge = min(height, width)
        matches = [tier for tier in self.tiers if tier.accepts(short_edge)]
        if len(matches) != 1:
            raise AssertionError(f"tier table routes short edge {short_edge} to {len(matches)} tiers")
        return matches[0]

    def plan(self, height: int, width: int) -> TierPlan:
        """Pick the tier for an image of (height, width) and the shape it is fitted to."""
        if height < 1 or width < 1:
            raise ValueError(f"image shape must be positive, got {height}x{width}")
        tier = self.select(height, width)
        transposed = self.region == "frame" and height > width
        turned = (width, height) if transposed else (height, width)
        scale = tier.short_edge / min(turned) if tier.scale_to_short_edge else 1.0
        if scale < 1.0 and tier is self.tiers[-1]:
            log.warning("image %dx%d is above the largest tier; scaling its short edge to %d",
                        width, height, tier.short_edge)
        scale = min(scale, *(limit / edge for limit, edge in zip(tier.max_shape, turned)))
        scaled = tuple(min(max(1, round(edge * scale)), limit)
                       for edge, limit in zip(turned, tier.max_shape))
        planned = tuple(min(max(_round_up(edge, self.stride), low), limit)
                        for edge, low, limit in zip(scaled, tier.min_shape, tier.max_shape))
        return TierPlan(tier=tier, original_shape=(height, width), scaled_shape=scaled,
                        planned_shape=planned, transposed=transposed)


DEFAULT_TIERS = TierTable.from_short_edges()
