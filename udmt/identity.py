"""Identity assignment: which animal is in which foreground blob, and where inside a shared blob.

One frame at a time, animals are matched to *slots* of blobs (a blob as large as k animals offers k slots, plus
one costly extra slot because two animals on top of each other look like one) by a linear assignment on a cost
matrix. Animals sharing a blob are then separated by a weighted k-means started from their filter peaks, so
the learned appearance model decides who is where while they touch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from udmt.kernels import linear_sum_assignment
from udmt.scene import Blobs

UNASSIGNED = -1


@dataclass(frozen=True)
class Gates:
    """Distances in working pixels."""

    max_jump: np.ndarray  # (N,) largest plausible distance from each animal's expected position
    slot_penalty: float  # cost of each additional animal in one blob
    extra_slot_penalty: float  # cost of the slot beyond the blob's estimated capacity


def blob_capacity(areas: np.ndarray, animal_area: float) -> np.ndarray:
    """How many animals each blob probably holds (at least one)."""
    return np.maximum(1, np.rint(areas / animal_area)).astype(int)


def point_blob_distance(points: np.ndarray, blobs: Blobs) -> np.ndarray:
    """(N, k) distance from each point to each blob: 0 inside, else to the blob's rim (a disc approximation)."""
    if len(blobs) == 0:
        return np.zeros((len(points), 0))
    radius = np.sqrt(blobs.areas / np.pi)
    centre = np.linalg.norm(points[:, None, :] - blobs.centroids[None, :, :], axis=2)
    dist = np.maximum(centre - radius[None, :], 0.0)
    h, w = blobs.labels.shape
    ix = np.clip(np.rint(points[:, 0]).astype(int), 0, w - 1)
    iy = np.clip(np.rint(points[:, 1]).astype(int), 0, h - 1)
    inside = blobs.labels[iy, ix] - 1
    rows = np.flatnonzero(inside >= 0)
    dist[rows, inside[rows]] = 0.0
    return dist


def assign_to_blobs(expected: np.ndarray, blobs: Blobs, animal_area: float, gates: Gates) -> np.ndarray:
    """Blob index for each animal (UNASSIGNED when no blob is within reach), one slot per animal."""
    n = len(expected)
    result = np.full(n, UNASSIGNED)
    if len(blobs) == 0 or n == 0:
        return result
    dist = point_blob_distance(expected, blobs)
    capacity = blob_capacity(blobs.areas, animal_area)
    slot_blob = np.repeat(np.arange(len(blobs)), capacity + 1)
    slot_rank = np.concatenate([np.arange(c + 1) for c in capacity])
    penalty = np.where(slot_rank < capacity[slot_blob], slot_rank * gates.slot_penalty, gates.extra_slot_penalty)
    cost = dist[:, slot_blob] + penalty[None, :]
    cost[dist[:, slot_blob] > gates.max_jump[:, None]] = np.inf
    # Every animal can also stay unassigned (lost) at a price above any allowed match.
    lost = np.full((n, n), np.inf)
    np.fill_diagonal(lost, gates.max_jump + gates.extra_slot_penalty + 1.0)
    rows, cols = linear_sum_assignment(np.concatenate([cost, lost], axis=1))
    matched = cols < cost.shape[1]
    result[rows[matched]] = slot_blob[cols[matched]]
    return result


def split_blob(x: np.ndarray, y: np.ndarray, weights: np.ndarray, starts: np.ndarray, iterations: int = 6) -> np.ndarray:
    """Weighted k-means of one blob's pixels into len(starts) animals; centre i stays the animal of starts[i]."""
    pts = np.stack([x, y], axis=1).astype(np.float64)
    centres = starts.astype(np.float64).copy()
    for _ in range(iterations):
        nearest = np.argmin(((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
        for k in range(len(centres)):
            mine = nearest == k
            total = weights[mine].sum()
            if total > 0:
                centres[k] = (pts[mine] * weights[mine, None]).sum(axis=0) / total
    return centres


def local_centroid(x: np.ndarray, y: np.ndarray, weights: np.ndarray, near: np.ndarray, radius: float) -> np.ndarray:
    """Weighted centroid of the blob pixels within ``radius`` of ``near`` (the blob centroid if none are)."""
    d2 = (x - near[0]) ** 2 + (y - near[1]) ** 2
    mine = d2 <= radius * radius
    if not mine.any() or weights[mine].sum() <= 0:
        mine = np.ones_like(d2, dtype=bool)
    w = weights[mine]
    return np.array([(x[mine] * w).sum(), (y[mine] * w).sum()]) / max(w.sum(), 1e-9)
