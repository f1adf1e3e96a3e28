"""FaceFusion: the pipeline a camera loop embeds. Prepare once, then ``fuse(frame)`` per frame.

image -> faces.detect -> align source onto target landmarks -> region + mask -> colour-matched
composite -> tiers.plan -> backend.infer (one batch per tier) -> unplan -> paste back.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from types import TracebackType

import numpy as np

from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import Refine
from fuse_trt.engine.errors import ConfigError, FuseTrtError, InputImageError, NoFaceError
from fuse_trt.engine.faces import DetectorConfig, Face, FaceDetector, IdentityEncoder
from fuse_trt.engine.faces.policy import FaceDecision
from fuse_trt.engine.fusion_input import FacePrep, prepare_face
from fuse_trt.fusion_config import FusionConfig
from fuse_trt.models import default_bundle_dir
from fuse_trt.runtime.batching import refine_batch
from fuse_trt.runtime.protocol import Backend
from fuse_trt.runtime.select import BackendSelection, open_selected, select_backend

log = logging.getLogger("fuse_trt")

__all__ = ["DetectorConfig", "FaceFusion", "FusionConfig", "SourceFace", "check_image"]


def check_image(image: object, what: str) -> np.ndarray:
    """``image`` if it is an RGB uint8 HxWx3 array with pixels, else :class:`InputImageError`."""
    if not isinstance(image, np.ndarray):
        raise InputImageError(f"{what} must be a numpy array (RGB uint8 HxWx3), got "
                              f"{type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputImageError(f"{what} must be RGB uint8 HxWx3, got {image.dtype} "
                              f"{tuple(image.shape)}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InputImageError(f"{what} has no pixels to work on "
                              f"({image.shape[1]}x{image.shape[0]})")
    return image


@dataclass(frozen=True)
class SourceFace:
    image: np.ndarray
    landmarks: np.ndarray
    identity: np.ndarray | None


class FaceFusion:
    """Fuse a source face onto target images or video frames.

    Thread-safe: ``fuse`` may be called from a worker thread while another thread captures;
    calls are serialised on one lock because the detector and the backend's buffers are shared.
    """

    def __init__(self, config: FusionConfig = FusionConfig()):
        if not isinstance(config, FusionConfig):
            raise ConfigError(f"FaceFusion takes a FusionConfig, got {type(config).__name__}")
        self.config = config
        self.bundle = Bundle.load(config.bundle or default_bundle_dir())
        self.detector = FaceDetector(config.detector)
        self.face_policy = config.face_policy
        self.selection: BackendSelection | None = None  # set by prepare() when the UNet runs
        self._encoder: IdentityEncoder | None = None
        self._backend: Backend | None = None
        self._source: SourceFace | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------
    def prepare(self) -> FaceFusion:
        """Open and activate the backend (all tiers); idempotent."""
        if self.config.refine == Refine.UNET and self._backend is None:
            self.selection = select_backend(self.bundle, self.config.backend,
                                            self.config.precision)
            self._backend = open_selected(self.bundle, self.selection).activate()
        return self

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None

    def __enter__(self) -> FaceFusion:
        return self.prepare()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @property
    def backend(self) -> Backend | None:
        return self._backend

    # -- source ----------------------------------------------------------------------
    def set_source(self, image: np.ndarray) -> SourceFace:
        """Detect the largest face of ``image`` and keep it as the identity to paste; a turned
        source face is refused (it would be pasted turned onto every target)."""
        faces = self.detector.detect(check_image(image, "the source image"))
        if not faces:
            raise NoFaceError("no face found in the source image")
        face = faces[0]
        self.face_policy.check_source(face)
        identity = None
        if any(t.layout == "vector" for t in self.bundle.spec.inputs):
            identity = self._identity_encoder().embed(image, face.landmarks)
        self._source = SourceFace(image=image, landmarks=face.landmarks, identity=identity)
        return self._source

    def _identity_encoder(self) -> IdentityEncoder:
        if self._encoder is None:
            self._encoder = IdentityEncoder()
        return self._encoder

    # -- per frame -------------------------------------------------------------------
    def fuse(self, frame: np.ndarray, faces: list[Face] | None = None,
             require_face: bool = True) -> np.ndarray:
        """Return a new frame with the source face fused onto the chosen target face(s).

        Without ``faces`` they are detected and chosen by the face policy (``config.face``);
        target faces turned past the yaw threshold are left untouched (one warning) unless
        ``config.allow_profile``. ``faces`` given by the caller (a stream, a tracker) are the
        faces to fuse: only the turned-face check applies. With ``require_face=False`` a
        frame without a face comes back unchanged (video).
        """
        check_image(frame, "the target image")
        if self._source is None:
            raise FuseTrtError("set_source() must be called before fuse()")
        with self._lock:
            decision = self._decide(frame, faces, require_face)
            if decision is None or not decision.fuse:
                return frame.copy()
            if self.config.refine == Refine.UNET:
                self.prepare()
            return self._fuse_faces(frame, list(decision.fuse))

    def _decide(self, frame: np.ndarray, faces: list[Face] | None,
                require_face: bool) -> FaceDecision | None:
        if faces is None:
            faces = self.detector.detect(frame)
            if not faces and require_face:
                raise NoFaceError("no face found in the target image")
            decide = self.face_policy.decide_still if require_face else self.face_policy.decide
        else:
            decide = self.face_policy.decide_given
        if not faces:
            return None
        decision = decide(faces)
        if decision.turned:
            log.warning("%s", self.face_policy.turned_message(decision))
        return decision

    def _fuse_faces(self, frame: np.ndarray, faces: list[Face]) -> np.ndarray:
        # A small face still costs a full pass of the first tier: spend it on real context
        # (just under the next tier's threshold) instead of reflect padding.
        min_region = self.bundle.tiers.first_tier_limit
        preps: list[FacePrep] = [
            prepare_face(frame, face, self._source.image, self._source.landmarks,
                         region=self.config.region, context=self.config.context,
                         min_region=min_region, composite=self.config.composite)
            for face in faces]
        if self.config.refine == Refine.UNET:
            refine_batch(self._backend, self.bundle.tiers, preps, self._source.identity)
        output = frame
        for prep in preps:
            output = prep.paste(output, self.config.ratio)
        return output
