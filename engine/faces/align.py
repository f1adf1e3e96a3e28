"""Five-point alignment: the ArcFace template, similarity transforms, warps and a yaw measure."""
from __future__ import annotations

import cv2
import numpy as np

from fuse_trt.engine.errors import NoFaceError

# Standard 5-point ArcFace template for a 112x112 crop, (x, y) in the landmark order right eye,
# left eye, nose, right mouth corner, left mouth corner (subject's right = image left).
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)

PROFILE_YAW_THRESHOLD = 0.5
""":func:`yaw_ratio` above which a face is too far from frontal to fuse well.

0.5 is a head turned about 30 degrees. Calibrated with YuNet landmarks on the test photos:
astronaut 0.13 and grace_hopper 0.00 (frontal-ish, fuse well) against skimage's camera.png
0.92 (a three-quarter view whose nose passes the far eye; every classical blend breaks on
it), so both sides keep a wide margin. The pipeline warns or refuses above it.
"""


def similarity_transform(src_landmarks: np.ndarray, dst_landmarks: np.ndarray) -> np.ndarray:
    """The 2x3 float64 similarity (rotation, uniform scale, shift) taking ``src`` onto ``dst``.

    Least squares over all points (LMEDS, which keeps every point of five good ones).
    Raises :class:`NoFaceError` if no transform can be estimated (degenerate landmarks).
    """
    src = np.asarray(src_landmarks, dtype=np.float32).reshape(-1, 2)
    dst = np.asarray(dst_landmarks, dtype=np.float32).reshape(-1, 2)
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if (matrix is None or not np.all(np.isfinite(matrix))
            or abs(np.linalg.det(matrix[:, :2])) < 1e-12):
        raise NoFaceError("cannot align the face: its landmarks are degenerate")
    return matrix.astype(np.float64)


def invert_transform(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix, as 2x3 float64."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return points @ np.asarray(matrix, dtype=np.float64)[:, :2].T + matrix[:, 2]


def align_to_template(image: np.ndarray, landmarks: np.ndarray,
                      size: int = 112) -> tuple[np.ndarray, np.ndarray]:
    """The face cropped onto the ArcFace template at ``size`` px, and the 2x3 matrix used."""
    template = ARCFACE_TEMPLATE_112 * np.float32(size / 112.0)
    matrix = similarity_transform(landmarks, template)
    return warp_image(image, matrix, (size, size)), matrix


def warp_image(image: np.ndarray, matrix: np.ndarray, out_shape: tuple[int, int],
               border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """Warp ``image`` (or a float mask) with a 2x3 matrix into an ``(h, w)`` canvas."""
    height, width = out_shape
    return cv2.warpAffine(image, np.asarray(matrix, dtype=np.float64), (int(width), int(height)),
                          flags=cv2.INTER_LINEAR, borderMode=border)


def yaw_ratio(landmarks: np.ndarray) -> float:
    """How far the head is turned left or right, from the five landmarks: 0 frontal, 1 profile.

    ``r`` is the nose's offset from the eye midpoint along the eye axis (so roll does not
    count), divided by half the inter-ocular distance. For a head turned by ``yaw`` with the
    nose tip about half an eye distance in front of the eyes, ``r = tan(yaw)``, so the returned
    ``r / sqrt(1 + r**2)`` estimates ``sin(yaw)``: 0.5 is about 30 degrees, 0.71 about 45, and
    it tends to 1 as the eyes collapse together in profile. Pitch is not measured.
    """
    right_eye, left_eye, nose = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)[:3]
    axis = left_eye - right_eye
    eye_distance = float(np.linalg.norm(axis))
    if eye_distance < 1e-6:
        return 1.0
    offset = abs(float(np.dot(nose - (right_eye + left_eye) / 2.0, axis))) / eye_distance
    ratio = offset / (eye_distance / 2.0)
    return float(ratio / np.hypot(1.0, ratio))
