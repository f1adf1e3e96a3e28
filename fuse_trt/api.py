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
from fuse_trt.engine.choices import BackendName, Refine
from fuse_trt.engine.errors import ConfigError, FuseTrtError, InputImageError, NoFaceError
from fuse_trt.engine.faces import DetectorConfig, Face, FaceDetector, IdentityEncoder
from fuse_trt.engine.faces.assignment import SFACE_SAME_PERSON, assign, similarity_matrix
from fuse_trt.engine.fusion_input import FacePrep, prepare_face
from fuse_trt.fusion_config import FusionConfig
from fuse_trt.models import default_bundle_dir
from fuse_trt.runtime.batching import refine_batch
from fuse_trt.runtime.protocol import Backend
from fuse_trt.runtime.select import BackendSelection, open_selected, select_backend

log = logging.getLogger("fuse_trt")



__all__ = ["DetectorConfig", "FaceFusion", "FaceMapping", "FusionConfig", "SourceFace",
           "check_image"]


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

    def __init__(self, config: FusionConfig = FusionConfig(), backend: Backend | None = None):
        """``backend``: an activated backend for the bundle's model to refine with, instead
        of the one ``config.backend`` selects (the benchmark's peer runtimes); closed with
        the fusion."""
        if not isinstance(config, FusionConfig):
            raise ConfigError(f"FaceFusion takes a FusionConfig, got {type(config).__name__}")
        self.config = config
        self.bundle = Bundle.load(config.bundle or default_bundle_dir())
        self.detector = FaceDetector(config.detector)
        self.face_policy = config.face_policy
        self.selection: BackendSelection | None = None  # set by prepare() when the UNet runs
        self._encoder: IdentityEncoder | None = None
        self._backend: Backend | None = backend
        self._source: SourceFace | None = None
        self._mapping: FaceMapping | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------
    def prepare(self) -> FaceFusion:
        """Open and activate the backend (all tiers) if the UNet refines; idempotent."""
        if self._refines and self._backend is None:
            self.selection = select_backend(self.bundle, self.config.backend,
                                            self.config.precision, plans_buildable=True)
            self._backend = self._open(self.selection).activate()
        return self

    def _open(self, selection: BackendSelection) -> Backend:
        """The selected backend; a missing TensorRT plan is built into the engine cache."""
        if selection.name != BackendName.TENSORRT:
            return open_selected(self.bundle, selection, self.config.url)
        from fuse_trt.engine_cache import open_tensorrt_building

        log.info("%s", selection.describe())
        return open_tensorrt_building(self.bundle, selection.precision)

    @property
    def _refines(self) -> bool:
        return self.config.refine == Refine.UNET

    def _refiner(self) -> Backend | None:
        """The activated backend when the UNet refines (prepared here on first use)."""
        if self._backend is None and self._refines:
            self.prepare()
        return self._backend

    def close(self) -> None:
        """Close the backend and return the memory it freed to the OS (fuse_trt/heap.py)."""
        from fuse_trt.heap import trim_heap

        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None
                trim_heap()

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
        self._source = self._source_face(image, "source")
        return self._source

    def _source_face(self, image: np.ndarray, role: str) -> SourceFace:
        faces = self.detector.detect(check_image(image, f"the {role} image"))
        if not faces:
            raise NoFaceError(f"no face found in the {role} image")
        face = faces[0]
        self.face_policy.check_source(face)
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
        faces = self.detector.detect(check_image(image, "the reference photo"))
        if not faces:
            raise NoFaceError("no face found in the reference photo")
        return self._identity_encoder().embed(image, faces[0].landmarks)

    def embed_face(self, frame: np.ndarray, face: Face, bgr: bool = False) -> np.ndarray:
        return self._identity_encoder().embed(frame, face.landmarks, bgr=bgr)

    def match_faces(self, frame: np.ndarray, faces: list[Face],
                    bgr: bool = False) -> list[tuple[Face, int]]:
        """(face, source index) for every face the mapping assigns, solved for this frame."""
        if not faces:
            return []
        embeddings = np.stack([self.embed_face(frame, face, bgr) for face in faces])
        chosen = assign(similarity_matrix(self._mapping.references, embeddings),
                        self._mapping.threshold)
        return [(faces[column], row) for column, row in sorted(chosen.items())]

    def _identity_encoder(self) -> IdentityEncoder:
        if self._encoder is None:
            self._encoder = IdentityEncoder()
        return self._encoder

    # -- per frame -------------------------------------------------------------------
    def fuse(self, frame: np.ndarray, faces: list[Face] | None = None,
             require_face: bool = True,
             assigned: list[tuple[Face, int]] | None = None, bgr: bool = False) -> np.ndarray:
        """The frame with the source face fused onto the chosen target face(s), as a new array.

        Without ``faces`` they are detected and chosen by the face policy (``config.face``),
        or by the mapping (:meth:`set_mapping`: each face gets the source its reference
        matches). ``faces`` given by the caller (a stream, a tracker) are the faces to fuse;
        ``assigned`` (face, source index) pairs are decided by the caller (a stream's tracks).
        Target faces turned past the yaw threshold are left untouched, with one warning,
        unless ``config.allow_profile``. With ``require_face=False`` a frame without a face
        comes back as it is (the same array). ``bgr``: the frame is in OpenCV's BGR order (a
        decoded video frame), and so is the result; only the face regions are converted.
        """
        check_image(frame, "the target image")
        if self._source is None and self._mapping is None:
            raise FuseTrtError("set_source() or set_mapping() must be called before fuse()")
        with self._lock:
            chosen = faces is not None
            if faces is None and assigned is None:
                faces = self.detector.detect(frame, bgr=bgr)
            pairs = assigned if assigned is not None else \
                self._pairs(frame, faces, chosen, require_face, bgr)
            if not pairs:
                if require_face:
                    raise NoFaceError("no face found in the target image" if not faces else
                                      "no target face matches the reference photo(s)")
                return frame
            pairs = self._frontal(pairs)
            if not pairs:
                return frame
            return self._fuse_pairs(frame, pairs, bgr)

    def _pairs(self, frame: np.ndarray, faces: list[Face], chosen: bool,
               require_face: bool, bgr: bool) -> list[tuple[Face, int]]:
        if not faces:
            return []
        if self._mapping is not None:
            return self.match_faces(frame, faces, bgr)
        if chosen:
            return [(face, 0) for face in faces]
        policy = self.face_policy
        return [(face, 0) for face in (policy.choose_still(faces) if require_face
                                       else policy.choose(faces))]

    def _frontal(self, pairs: list[tuple[Face, int]]) -> list[tuple[Face, int]]:
        """``pairs`` without the turned faces (one warning names them)."""
        decision = self.face_policy.decide_given([face for face, _ in pairs])
        if decision.turned:
            log.warning("%s", self.face_policy.turned_message(decision))
        kept = {id(face) for face in decision.fuse}
        return [(face, index) for face, index in pairs if id(face) in kept]

    def _sources(self) -> tuple[SourceFace, ...]:
        return self._mapping.sources if self._mapping is not None else (self._source,)

    def _fuse_pairs(self, frame: np.ndarray, pairs: list[tuple[Face, int]],
                    bgr: bool) -> np.ndarray:
        # A small face still costs a full pass of the first tier: spend it on real context
        # (just under the next tier's threshold) instead of reflect padding.
        min_region = self.bundle.tiers.first_tier_limit
        sources = self._sources()
        preps: list[FacePrep] = [
            prepare_face(frame, face, sources[index].image, sources[index].landmarks,
                         region=self.config.region, context=self.config.context,
                         min_region=min_region, composite=self.config.composite,
                         with_context=self._refines, bgr=bgr)
            for face, index in pairs]
        refiner = self._refiner()
        if refiner is not None:
            for index in sorted({index for _, index in pairs}):  # one identity per batch
                group = [prep for prep, (_, i) in zip(preps, pairs) if i == index]
                # the backend's tiers: a DLA tier is static, faces are padded to its shape
                refine_batch(refiner, refiner.tiers, group, sources[index].identity)
        output = frame.copy()
        for prep in preps:
            prep.paste_into(output, self.config.ratio)
        return output
