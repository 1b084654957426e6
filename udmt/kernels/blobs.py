"""Foreground blobs of a frame (``udmt._core``): connected components with their measurements in one pass, and
the weighted k-means that shares a blob between the animals touching in it (refined, where the animals' body
shape is known, by each animal's own body axis). Every frame passes through the first, every frame with touching
animals through the second."""

from __future__ import annotations

import numpy as np

from udmt.kernels.runtime import core as _core

Slices = list[tuple[slice, slice]]


def label_blobs(mask: np.ndarray, diff: np.ndarray, seed: float,
                min_area: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, Slices]:  # fmt: skip
    """4-connected components of ``mask`` that reach ``diff > seed`` somewhere and cover ``min_area`` pixels.

    Returns ``labels`` (h, w) int32 (0 background, i+1 blob i, numbered in raster order of each blob's first
    pixel, as scipy.ndimage.label), ``areas`` (k,), ``centroids`` (k, 2) x, y weighted by max(diff, 0), and each
    blob's bounding box as (rows, columns) slices, as scipy.ndimage.find_objects.
    """
    labels, areas, centroids, boxes = _core.label_blobs(
        np.ascontiguousarray(mask, dtype=np.uint8), np.ascontiguousarray(diff, dtype=np.float32), float(seed),
        float(min_area),
    )
    return labels, areas, centroids, [(slice(y0, y1), slice(x0, x1)) for y0, y1, x0, x1 in boxes.tolist()]


def split_blob(x: np.ndarray, y: np.ndarray, weights: np.ndarray, starts: np.ndarray, sizes: np.ndarray | None = None,
               iterations: int = 6) -> np.ndarray:  # fmt: skip
    """Weighted k-means of one blob's pixels into len(starts) animals of relative areas ``sizes`` (default equal);
    centre i stays the animal of starts[i]."""
    starts = np.ascontiguousarray(starts, dtype=np.float64).reshape(-1, 2)
    sizes = np.ones(len(starts)) if sizes is None else sizes
    return _core.split_blob(np.ascontiguousarray(x, dtype=np.int64), np.ascontiguousarray(y, dtype=np.int64),
                            np.ascontiguousarray(weights, dtype=np.float64), starts,
                            np.ascontiguousarray(sizes, dtype=np.float64), int(iterations))


def split_blob_shaped(x: np.ndarray, y: np.ndarray, weights: np.ndarray, starts: np.ndarray, sizes: np.ndarray,
                      shape: tuple[float, float], angles: np.ndarray | None = None, iterations: int = 6,
                      shaped_iterations: int = 32) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``split_blob``, then each animal a Gaussian of variances ``shape`` = (along, across its body) × its size
    along its own body axis (hard EM, until no pixel changes animal or ``shaped_iterations`` rounds). It starts
    from ``angles`` (radians, e.g. the frame before; NaN or None: the axis of the animal's k-means pixels) and,
    where any was given, also from the k-means axes alone, keeping the better fit. Bodies lying across each other
    are told apart by their directions, where k-means would cut them into halves of both. Returns the centres
    (k, 2) and their body axes' angles (k,)."""
    starts = np.ascontiguousarray(starts, dtype=np.float64).reshape(-1, 2)
    angles = np.full(len(starts), np.nan) if angles is None else np.ascontiguousarray(angles, dtype=np.float64)
    return _core.split_blob_shaped(np.ascontiguousarray(x, dtype=np.int64), np.ascontiguousarray(y, dtype=np.int64),
                                   np.ascontiguousarray(weights, dtype=np.float64), starts,
                                   np.ascontiguousarray(sizes, dtype=np.float64), angles, int(iterations),
                                   int(shaped_iterations), float(shape[0]), float(shape[1]))
