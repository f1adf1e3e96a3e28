"""Identity embeddings with SFace through ``cv2.dnn``: 128 numbers, L2-normalised.

``cv2.FaceRecognizerSF`` fails in OpenCV 5 (it sets its input by an empty name), so the ONNX
model is run with ``cv2.dnn`` and its input named ``data``. SFace takes the face aligned to
the 5-point ArcFace template at 112x112, RGB, raw 0..255 values (no mean, no scaling).
"""
from __future__ import annotations

import logging

import cv2
import numpy as np

from fuse_trt.engine.faces.align import align_to_template
from fuse_trt.engine.faces.models import model_path, opencv_errors_only
from fuse_trt.engine.errors import NoFaceError

log = logging.getLogger("fuse_trt")

SFACE_INPUT = "data"
SFACE_SIZE = 112
EMBEDDING_SIZE = 128


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (1 same direction, 0 unrelated)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denominator) if denominator > 0 else 0.0


class IdentityEncoder:
    """SFace encoder; one instance holds one network and serves one thread at a time."""

    def __init__(self) -> None:
        with opencv_errors_only():
            self._net = cv2.dnn.readNetFromONNX(str(model_path("recognizer")))

    def embed(self, image: np.ndarray, landmarks: np.ndarray, bgr: bool = False) -> np.ndarray:
        """The (128,) float32 unit-length embedding of the face at ``landmarks`` in ``image``
        (RGB, or BGR with ``bgr``: only the aligned crop is converted)."""
        aligned, _ = align_to_template(image, landmarks, SFACE_SIZE)
        return self.embed_aligned(cv2.cvtColor(aligned, cv2.COLOR_BGR2RGB) if bgr else aligned)

    def embed_aligned(self, aligned: np.ndarray) -> np.ndarray:
        """Embedding of a face already aligned to the 112x112 template (RGB uint8)."""
        blob = cv2.dnn.blobFromImage(np.ascontiguousarray(aligned), 1.0,
                                     (SFACE_SIZE, SFACE_SIZE), (0.0, 0.0, 0.0),
                                     swapRB=False, crop=False)
        self._net.setInput(blob, SFACE_INPUT)
        output = self._net.forward().reshape(-1).astype(np.float32)
        norm = float(np.linalg.norm(output))
        if output.size != EMBEDDING_SIZE or norm < 1e-12:
            raise NoFaceError("the identity model produced no usable embedding for this face")
        return output / np.float32(norm)
