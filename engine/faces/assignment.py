"""Which target face gets which source: SFace similarity to reference photos, solved as one
assignment (Hungarian, scipy's ``linear_sum_assignment``) so two references never take the
same face and each face takes at most one reference."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

# OpenCV Zoo's cosine threshold for SFace: at or above it, two faces are the same person.
SFACE_SAME_PERSON = 0.363


def similarity_matrix(references: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(R, F) cosine similarities of unit-length embeddings."""
    return np.asarray(references, np.float64) @ np.asarray(faces, np.float64).T


def assign(similarity: np.ndarray, threshold: float = SFACE_SAME_PERSON) -> dict[int, int]:
    """{face column: reference row} maximising total similarity; pairs below ``threshold``
    are dropped (that face is left alone)."""
    if similarity.size == 0:
        return {}
    rows, columns = linear_sum_assignment(similarity, maximize=True)
    return {int(column): int(row) for row, column in zip(rows, columns)
            if similarity[row, column] >= threshold}


class TrackAssignment:
    """Reference per tracked face, kept for as long as the track lives.

    Each frame, tracks without a reference are matched (one global assignment) against the
    references no live track holds; a track keeps its reference until it ends, so a person
    keeps their source even when embeddings of a moving, blurred or crossing face waver.
    """

    def __init__(self, references: np.ndarray, threshold: float = SFACE_SAME_PERSON):
        self.references = np.asarray(references, np.float32)
        self.threshold = threshold
        self.held: dict[int, int] = {}  # track id -> reference index

    def update(self, tracks: Sequence[int],
               embed: Callable[[int], np.ndarray]) -> dict[int, int]:
        """{track id: reference} for the live ``tracks``; ``embed(track)`` is called only for
        tracks that hold no reference yet."""
        self.held = {track: ref for track, ref in self.held.items() if track in set(tracks)}
        waiting = [track for track in tracks if track not in self.held]
        free = [ref for ref in range(len(self.references)) if ref not in self.held.values()]
        if waiting and free:
            faces = np.stack([embed(track) for track in waiting])
            chosen = assign(similarity_matrix(self.references[free], faces), self.threshold)
            for column, row in chosen.items():
                self.held[waiting[column]] = free[row]
        return {track: self.held[track] for track in tracks if track in self.held}
