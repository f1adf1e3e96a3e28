"""FaceFusion: the pipeline a camera loop embeds. Prepare once, then ``fuse(frame)`` per frame.

image -> faces.detect -> align source onto target landmarks -> region + mask -> colour-matched
composite -> tiers.plan -> backend.infer (one batch per tier) -> unplan -> paste back.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import numpy as np

from fuse_trt.engine.bundle import Bundle
from fuse_trt.engine.choices import (BackendName, Blend, FaceChoice, Precision, Refine, Region,
                                     parse, values)
from fuse_trt.engine.faces.assignment import SFACE_SAME_PERSON, assign, similarity_matrix
from fuse_trt.engine.faces import (DetectorConfig, Face, FaceDetector, IdentityEncoder,
                                   PROFILE_YAW_THRESHOLD, yaw_ratio)
from fuse_trt.engine.errors import FuseTrtError, NoFaceError
from fuse_trt.engine.fusion_input import FacePrep, prepare_face
from fuse_trt.runtime.batching import refine_batch
from fuse_trt.models import default_bundle_dir
from fuse_trt.runtime.protocol import Backend
from fuse_trt.engine_cache import open_backend

log = logging.getLogger("fuse_trt")



@dataclass(frozen=True)
class FusionConfig:
    """Everything that shapes a fusion; passed explicitly, never read from globals."""

    bundle: Path | None = None  # None: the default model shipped in the package
    backend: Backend = BackendName.AUTO
    precision: Precision | None = None  # None: fp16 on TensorRT, fp32 elsewhere
    url: str | None = None  # the Triton server of backend="triton"
    blend: Blend = Blend.CLASSIC
    region: Region = Region.FACE
    ratio: float = 1.0  # 0 = the target's face, 1 = the source's
    face: str = "largest"  # "largest", "all" or a face index (largest first)
    context: float = 0.6  # context around the face box, as a fraction of its size
    detector: DetectorConfig = field(default_factory=DetectorConfig)

    def __post_init__(self) -> None:
        for name, choice in (("backend", BackendName), ("precision", Precision), ("blend", Blend),
                             ("region", Region)):
            if getattr(self, name) is not None or name != "precision":
                object.__setattr__(self, name, parse(choice, getattr(self, name), name))
        if not 0.0 <= self.ratio <= 1.0:
            raise FuseTrtError(f"ratio must lie in 0..1, got {self.ratio}")
        if self.face not in values(FaceChoice) and not str(self.face).isdigit():
            raise FuseTrtError(f"face must be largest, all or an index, got {self.face!r}")


@dataclass(frozen=True)
class SourceFace:
    image: np.ndarray
    landmarks: np.ndarray
    identity: np.ndarray | None


@dataclass(frozen=True)
class FaceMapping:
    """Source ``i`` goes on the person of reference ``i`` (SFace embeddings, one per row)."""

    sources: tuple[SourceFace, ...]
    references: np.ndarray  # (R, 128) unit-length
    threshold: float = SFACE_SAME_PERSON


class FaceFusion:
    """Fuse a source face onto target images or video frames.

    Thread-safe: ``fuse`` may be called from a worker thread while another thread captures;
    calls are serialised on one lock because the detector and the backend's buffers are shared.
    """

    def __init__(self, config: FusionConfig = FusionConfig()):
        self.config = config
        self.bundle = Bundle.load(config.bundle or default_bundle_dir())
        self.detector = FaceDetector(config.detector)
        self._encoder: IdentityEncoder | None = None
        self._backend: Backend | None = None
        self._source: SourceFace | None = None
        self._mapping: FaceMapping | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------
    def prepare(self) -> FaceFusion:
        """Open and activate the backend (all tiers); idempotent."""
        if self.config.blend.refine == Refine.UNET and self._backend is None:
            backend = open_backend(self.bundle, self.config.backend, self.config.precision,
                                   self.config.url)
            self._backend = backend.activate()
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
        """Detect the largest face of ``image`` and keep it as the identity to paste."""
        self._source = self._source_face(image, "source")
        return self._source

    def _source_face(self, image: np.ndarray, role: str) -> SourceFace:
        faces = self.detector.detect(image)
        if not faces:
            raise NoFaceError(f"no face found in the {role} image")
        face = faces[0]
        identity = None
        if any(t.layout == "vector" for t in self.bundle.spec.inputs):
            identity = self._identity_encoder().embed(image, face.landmarks)
        return SourceFace(image=image, landmarks=face.landmarks, identity=identity)

    def set_mapping(self, pairs: list[tuple[np.ndarray, np.ndarray]],
                    threshold: float = SFACE_SAME_PERSON) -> FaceMapping:
        """Fuse source ``pairs[i][0]`` only onto the target face most similar (SFace cosine at
        or above ``threshold``) to the person in reference photo ``pairs[i][1]``; faces no
        reference matches are left alone. Faces and references are matched as one assignment.
        """
        if not pairs:
            raise FuseTrtError("set_mapping needs at least one (source, reference) pair")
        sources = tuple(self._source_face(source, "source") for source, _ in pairs)
        references = np.stack([self.reference_embedding(ref) for _, ref in pairs])
        self._mapping = FaceMapping(sources, references, threshold)
        return self._mapping

    def set_target_face(self, reference: np.ndarray,
                        threshold: float = SFACE_SAME_PERSON) -> FaceMapping:
        """Fuse the current source only onto the person in ``reference``."""
        if self._source is None:
            raise FuseTrtError("set_source() must be called before set_target_face()")
        self._mapping = FaceMapping((self._source,), self.reference_embedding(reference)[None],
                                threshold)
        return self._mapping

    @property
    def mapping(self) -> FaceMapping | None:
        return self._mapping

    def reference_embedding(self, image: np.ndarray) -> np.ndarray:
        faces = self.detector.detect(image)
        if not faces:
            raise NoFaceError("no face found in the reference photo")
        return self._identity_encoder().embed(image, faces[0].landmarks)

    def embed_face(self, frame: np.ndarray, face: Face) -> np.ndarray:
        return self._identity_encoder().embed(frame, face.landmarks)

    def match_faces(self, frame: np.ndarray, faces: list[Face]) -> list[tuple[Face, int]]:
        """(face, source index) for every face the mapping assigns, solved for this frame."""
        if not faces:
            return []
        embeddings = np.stack([self.embed_face(frame, face) for face in faces])
        chosen = assign(similarity_matrix(self._mapping.references, embeddings),
                        self._mapping.threshold)
        return [(faces[column], row) for column, row in sorted(chosen.items())]

    def _identity_encoder(self) -> IdentityEncoder:
        if self._encoder is None:
            self._encoder = IdentityEncoder()
        return self._encoder

    # -- per frame -------------------------------------------------------------------
    def select_faces(self, faces: list[Face]) -> list[Face]:
        choice = self.config.face
        if choice == FaceChoice.ALL:
            return faces
        if choice == FaceChoice.LARGEST:
            return faces[:1]
        index = int(choice)
        if index >= len(faces):
            raise NoFaceError(f"face index {index} requested, {len(faces)} face(s) found")
        return [faces[index]]

    def fuse(self, frame: np.ndarray, faces: list[Face] | None = None,
             require_face: bool = True,
             assigned: list[tuple[Face, int]] | None = None) -> np.ndarray:
        """Return a new frame with the source face fused onto the chosen target face(s).

        ``faces`` may come from the caller (a tracker); otherwise they are detected. With a
        mapping (:meth:`set_mapping`) each face gets the source its reference matches, or
        ``assigned`` (face, source index) pairs decided by the caller (a stream's tracks).
        With ``require_face=False`` a frame without a face comes back unchanged (video).
        """
        if self._source is None and self._mapping is None:
            raise FuseTrtError("set_source() or set_mapping() must be called before fuse()")
        with self._lock:
            if faces is None and assigned is None:
                faces = self.detector.detect(frame)
            pairs = assigned if assigned is not None else self._pairs(frame, faces)
            if not pairs:
                if require_face:
                    raise NoFaceError("no face found in the target image" if not faces else
                                      "no target face matches the reference photo(s)")
                return frame.copy()
            for face, _ in pairs:
                self._warn_if_profile(face)
            if self.config.blend.refine == Refine.UNET:
                self.prepare()
            return self._fuse_pairs(frame, pairs)

    def _pairs(self, frame: np.ndarray, faces: list[Face]) -> list[tuple[Face, int]]:
        if not faces:
            return []
        if self._mapping is not None:
            return self.match_faces(frame, faces)
        return [(face, 0) for face in self.select_faces(faces)]

    def _sources(self) -> tuple[SourceFace, ...]:
        return self._mapping.sources if self._mapping is not None else (self._source,)

    @staticmethod
    def _warn_if_profile(face: Face) -> None:
        yaw = yaw_ratio(face.landmarks)
        if yaw > PROFILE_YAW_THRESHOLD:
            log.warning("target face at %s looks like a profile (yaw %.2f > %.2f): expect a "
                        "poor fusion", tuple(int(v) for v in face.box[:2]), yaw,
                        PROFILE_YAW_THRESHOLD)

    def _fuse_pairs(self, frame: np.ndarray, pairs: list[tuple[Face, int]]) -> np.ndarray:
        # A small face still costs a full pass of the first tier: spend it on real context
        # (just under the next tier's threshold) instead of reflect padding.
        min_region = self.bundle.tiers.first_tier_limit
        sources = self._sources()
        preps: list[FacePrep] = [
            prepare_face(frame, face, sources[index].image, sources[index].landmarks,
                         region=self.config.region, context=self.config.context,
                         min_region=min_region, composite=self.config.blend.composite)
            for face, index in pairs]
        if self.config.blend.refine == Refine.UNET:
            for index in sorted({index for _, index in pairs}):  # one identity per batch
                group = [prep for prep, (_, i) in zip(preps, pairs) if i == index]
                # the backend's tiers: a DLA tier is static, faces are padded to its shape
                refine_batch(self._backend, self._backend.tiers, group,
                             sources[index].identity)
        output = frame
        for prep in preps:
            output = prep.paste(output, self.config.ratio)
        return output
