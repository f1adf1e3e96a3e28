"""The one face policy: which detected target faces a fusion takes (``largest``, ``all`` or an
index, largest first) and which of those are turned too far to fuse.

Stills (``FaceFusion.fuse``) and streams (``stream.Pipeline``) both decide here. A target face
whose :func:`yaw_ratio` exceeds ``max_yaw`` (:data:`PROFILE_YAW_THRESHOLD`, about 30 degrees)
is left untouched unless ``allow_profile`` is set: the five-point fit of a turned face puts
the fusion region beside the head.
"""
from __future__ import annotations

from dataclasses import dataclass

from fuse_trt.engine.choices import FaceChoice, values
from fuse_trt.engine.errors import ConfigError, NoFaceError
from fuse_trt.engine.faces.align import PROFILE_YAW_THRESHOLD, yaw_ratio
from fuse_trt.engine.faces.detect import Face

FaceSelection = FaceChoice | int


def parse_face_choice(value: object) -> FaceSelection:
    """``largest``, ``all`` or a face index (0 = the largest) from a string, enum or int."""
    if isinstance(value, FaceChoice):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value).strip() if isinstance(value, str) else None
    if text in values(FaceChoice):
        return FaceChoice(text)
    if text is not None and text.isdigit():
        return int(text)
    raise ConfigError(f"face must be largest, all or an index (0 = the largest), got {value!r}")


def describe_face(face: Face) -> str:
    x, y = (int(v) for v in face.box[:2])
    return f"({x}, {y})"


@dataclass(frozen=True)
class FaceDecision:
    """What one frame's faces become: fused, or left untouched because they are turned."""

    fuse: tuple[Face, ...]
    turned: tuple[Face, ...]
    yaws: tuple[float, ...]  # of ``turned``


@dataclass(frozen=True)
class FacePolicy:
    choice: FaceSelection = FaceChoice.LARGEST
    allow_profile: bool = False
    max_yaw: float = PROFILE_YAW_THRESHOLD

    def __post_init__(self) -> None:
        object.__setattr__(self, "choice", parse_face_choice(self.choice))
        if not 0.0 < float(self.max_yaw) <= 1.0:
            raise ConfigError(f"max_yaw must lie in (0, 1], got {self.max_yaw}")

    @property
    def index(self) -> int | None:
        return None if isinstance(self.choice, FaceChoice) else self.choice

    def choose(self, faces: list[Face]) -> list[Face]:
        """``faces`` is largest first; an index past the end chooses nothing."""
        if self.choice == FaceChoice.ALL:
            return list(faces)
        index = self.index or 0
        return list(faces[index:index + 1])

    def choose_still(self, faces: list[Face]) -> list[Face]:
        """:meth:`choose`, with an index past the end a :class:`NoFaceError` (a still has one
        answer; a stream treats it as a frame without the face)."""
        if self.index is not None and self.index >= len(faces):
            raise NoFaceError(f"face index {self.index} requested, {len(faces)} face(s) found")
        return self.choose(faces)

    def is_turned(self, face: Face) -> bool:
        return not self.allow_profile and yaw_ratio(face.landmarks) > self.max_yaw

    def decide(self, faces: list[Face]) -> FaceDecision:
        """Choose among ``faces`` (largest first), then set the turned ones aside."""
        return self.decide_given(self.choose(faces))

    def decide_given(self, chosen: list[Face]) -> FaceDecision:
        """Set the turned faces of ``chosen`` (already chosen by the caller) aside."""
        flags = [self.is_turned(face) for face in chosen]
        turned = tuple(face for face, flag in zip(chosen, flags) if flag)
        return FaceDecision(fuse=tuple(face for face, flag in zip(chosen, flags) if not flag),
                            turned=turned,
                            yaws=tuple(yaw_ratio(face.landmarks) for face in turned))

    def decide_still(self, faces: list[Face]) -> FaceDecision:
        """:meth:`decide`, with an index past the end a :class:`NoFaceError` (a still has
        one answer; a stream treats it as a frame without the face)."""
        return self.decide_given(self.choose_still(faces))

    def check_source(self, face: Face) -> None:
        """A turned source face gives a turned paste everywhere: refuse it."""
        yaw = yaw_ratio(face.landmarks)
        if yaw > self.max_yaw and not self.allow_profile:
            raise NoFaceError(f"the source face is turned (yaw {yaw:.2f} > {self.max_yaw:.2f}); "
                              "pick a frontal photo (or allow_profile / --allow-profile)")

    def turned_message(self, decision: FaceDecision) -> str:
        where = ", ".join(f"{describe_face(face)} yaw {yaw:.2f}"
                          for face, yaw in zip(decision.turned, decision.yaws))
        return (f"{len(decision.turned)} target face(s) turned past yaw {self.max_yaw:.2f} "
                f"left untouched ({where}); --allow-profile fuses them")
