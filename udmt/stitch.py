"""Identity linking across chunk boundaries.

Consecutive chunks both track the overlap frames; each track of the new chunk continues the old chunk's
track it stays closest to over the overlap (a linear assignment on the mean distance). The margin — how much
worse the second-best continuation would be, in body lengths — says how sure the link is; a low margin is
flagged in the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from udmt.kernels import linear_sum_assignment
from udmt.track import ChunkTracks

LOW_MARGIN = 0.25  # body lengths


@dataclass(frozen=True)
class Link:
    previous_of: np.ndarray  # (N,) previous chunk's track continued by each new track
    cost: np.ndarray  # (N,) mean distance over the overlap of each chosen link, px
    margin: np.ndarray  # (N,) second-best minus chosen cost, body lengths
    low_margin: bool


def overlap_costs(previous: ChunkTracks, current: ChunkTracks) -> np.ndarray:
    """(N_prev, N_cur) mean distance between tracks over the frames both chunks cover."""
    offset = current.start - previous.start
    length = min(len(previous.position) - offset, len(current.position))
    if length <= 0:
        raise ValueError(f"chunks starting at {previous.start} and {current.start} do not overlap")
    a = previous.position[offset : offset + length].astype(np.float64)
    b = current.position[:length].astype(np.float64)
    dist = np.linalg.norm(a[:, :, None, :] - b[:, None, :, :], axis=3)
    counts = np.isfinite(dist).sum(axis=0)
    mean = np.where(counts > 0, np.nansum(dist, axis=0) / np.maximum(counts, 1), 1e9)
    return mean


def link_chunks(previous: ChunkTracks, current: ChunkTracks, body_length: float) -> Link:
    cost = overlap_costs(previous, current)
    rows, cols = linear_sum_assignment(cost)
    previous_of = np.empty(cost.shape[1], dtype=int)
    previous_of[cols] = rows
    chosen = cost[rows, cols]
    margin = np.empty(len(cols))
    for k, (i, j) in enumerate(zip(rows, cols)):
        alternatives = np.concatenate([np.delete(cost[i], j), np.delete(cost[:, j], i)])
        margin[k] = ((alternatives.min() if alternatives.size else np.inf) - chosen[k]) / body_length
    order = np.argsort(cols)
    return Link(previous_of, chosen[order], margin[order], bool((margin < LOW_MARGIN).any()))
