"""FusionConfig: everything that shapes a fusion, typed and checked when it is made.

Strings are accepted wherever a choice is asked for and converted to the enums of
:mod:`fuse_trt.engine.choices`; a value outside a choice, a number outside its range or two
settings that contradict each other raise :class:`ConfigError` at construction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from fuse_trt.engine.choices import BackendName, Blend, Composite, Precision, Refine, Region, parse
from fuse_trt.engine.errors import ConfigError
from fuse_trt.engine.faces import DetectorConfig
from fuse_trt.engine.faces.policy import FacePolicy, FaceSelection, parse_face_choice

MAX_CONTEXT = 2.0  # a region five times the face's long side; more only adds background


@dataclass(frozen=True)
class FusionConfig:
    """``composite`` (colour transfer or Poisson) is the classical fusion; ``refine`` says
    whether the bundle's UNet refines it (the default). ``backend`` and ``precision`` choose
    how the UNet runs, so they conflict with ``refine="none"``. ``blend`` is the deprecated
    single option (classic = colour/none, unet = colour/unet, seamless = seamless/none)."""

    bundle: Path | None = None  # None: the default model shipped in the package
    backend: BackendName = BackendName.AUTO
    precision: Precision | None = None  # None: fp16 on TensorRT, fp32 elsewhere
    url: str | None = None  # the Triton server of backend="triton"
    composite: Composite | None = None  # None: colour (or what ``blend`` says)
    refine: Refine | None = None  # None: unet (or what ``blend`` says)
    region: Region = Region.FACE
    ratio: float = 1.0  # 0 = the target's face, 1 = the source's
    face: FaceSelection = "largest"  # "largest", "all" or a face index (largest first)
    allow_profile: bool = False  # fuse target faces turned past the yaw threshold too
    context: float = 0.6  # context around the face box, as a fraction of its size
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    blend: Blend | None = None  # deprecated: sets composite and refine

    def __post_init__(self) -> None:
        self._set("backend", parse(BackendName, self.backend, "backend"))
        if self.precision is not None:
            self._set("precision", parse(Precision, self.precision, "precision"))
        self._set("region", parse(Region, self.region, "region"))
        self._set("face", parse_face_choice(self.face))
        self._resolve_blend()
        self._check_numbers()
        self._check_conflicts()
        if self.bundle is not None:
            self._set("bundle", Path(self.bundle))
        if not isinstance(self.detector, DetectorConfig):
            raise ConfigError(f"detector must be a DetectorConfig, got {self.detector!r}")

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def _resolve_blend(self) -> None:
        composite, refine = self.composite, self.refine
        if self.blend is not None:
            if composite is not None or refine is not None:
                raise ConfigError("blend is the deprecated form of composite + refine; "
                                  "give one or the other")
            blend = parse(Blend, self.blend, "blend")
            composite, refine = blend.composite, blend.refine
        self._set("composite", parse(Composite, Composite.COLOUR if composite is None
                                     else composite, "composite"))
        self._set("refine", parse(Refine, Refine.UNET if refine is None else refine, "refine"))
        self._set("blend", None)

    def _check_numbers(self) -> None:
        for name, low, high in (("ratio", 0.0, 1.0), ("context", 0.0, MAX_CONTEXT)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or math.isnan(value) or not low <= value <= high:
                raise ConfigError(f"{name} must be a number in {low:g}..{high:g}, got {value!r}")
            self._set(name, float(value))
        if not isinstance(self.allow_profile, bool):
            raise ConfigError(f"allow_profile must be True or False, got {self.allow_profile!r}")

    def _check_conflicts(self) -> None:
        if self.refine != Refine.NONE:
            return
        ignored = [f"{name}={getattr(self, name)}" for name, unset in
                   (("backend", BackendName.AUTO), ("precision", None), ("url", None),
                    ("region", Region.FACE))
                   if getattr(self, name) != unset]
        if ignored:
            verb, them = ("choose", "them") if len(ignored) > 1 else ("chooses", "it")
            raise ConfigError(f"{', '.join(ignored)} {verb} how the UNet runs, but refine=none "
                              f"runs no UNet; drop {them} or use refine=unet")

    @property
    def face_policy(self) -> FacePolicy:
        return FacePolicy(choice=self.face, allow_profile=self.allow_profile)
