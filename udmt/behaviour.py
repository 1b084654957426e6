"""Behavioural measures from trajectories: speed, nearest neighbour, proximity events, resampling.

These are the first numbers most users compute from tracks; having them here (and in
``udmt export --format behaviour``) means nobody re-derives them with a different finite difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from udmt.errors import InputError, UsageError


@dataclass(frozen=True)
class ProximityEvent:
    """Animals ``a`` and ``b`` closer than the threshold from ``start`` to ``stop`` (exclusive) frames."""

    a: int
    b: int
    start: int
    stop: int
    min_distance_px: float


def speed(position: np.ndarray, fps: float) -> np.ndarray:
    """Per-frame speed (px/s) ``(T, N)`` by central differences (one-sided at the ends); NaN next to gaps."""
    if len(position) < 2:
        return np.full(position.shape[:2], np.nan)
    velocity = np.gradient(np.asarray(position, dtype=np.float64), axis=0) * fps
    return np.hypot(velocity[..., 0], velocity[..., 1])


def pairwise_distances(position: np.ndarray) -> np.ndarray:
    """``(T, N, N)`` distances between animals; NaN where either is unknown, NaN on the diagonal."""
    p = np.asarray(position, dtype=np.float64)
    d = np.sqrt(((p[:, :, None, :] - p[:, None, :, :]) ** 2).sum(-1))
    d[:, np.arange(p.shape[1]), np.arange(p.shape[1])] = np.nan
    return d


def nearest_neighbour(position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (px) to and index of each animal's nearest other animal, ``(T, N)``; NaN / -1 if none."""
    d = pairwise_distances(position)
    none = np.isnan(d).all(-1)
    index = np.argmin(np.where(np.isnan(d), np.inf, d), axis=-1)
    distance = np.where(none, np.nan, np.take_along_axis(d, index[..., None], -1)[..., 0])
    return distance, np.where(none, -1, index)


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) indices of the True runs of a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def proximity_events(
    position: np.ndarray, fps: float, threshold_px: float, min_duration_s: float = 0.0
) -> list[ProximityEvent]:
    """Every stretch where two animals stay closer than ``threshold_px`` for at least ``min_duration_s``.

    Frames where either animal is unknown end an event: a gap is not evidence of contact.
    """
    d = pairwise_distances(position)
    min_frames = max(1, int(np.ceil(min_duration_s * fps - 1e-9)))
    events = []
    for a, b in zip(*np.triu_indices(d.shape[1], k=1)):
        pair = d[:, a, b]
        for start, stop in zip(*true_runs(pair < threshold_px)):
            if stop - start >= min_frames:
                events.append(ProximityEvent(int(a), int(b), int(start), int(stop), float(pair[start:stop].min())))
    return sorted(events, key=lambda e: (e.start, e.a, e.b))


def resample(times: np.ndarray, values: np.ndarray, target_times: np.ndarray) -> np.ndarray:
    """Linearly interpolate ``values`` (T, …) sampled at ``times`` onto ``target_times``.

    NaN where the target lies outside the samples or next to an unknown sample (gaps are not bridged).
    """
    times = np.asarray(times, dtype=np.float64)
    target = np.asarray(target_times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    right = np.clip(np.searchsorted(times, target, side="right"), 1, len(times) - 1)
    left = right - 1
    span = times[right] - times[left]
    w = ((target - times[left]) / span).reshape(-1, *([1] * (values.ndim - 1)))
    exact = w == 0  # on a sample: do not let an unknown right neighbour spoil it
    out = np.where(exact, values[left], values[left] + w * (values[right] - values[left]))
    at_end = (target == times[-1]).reshape(w.shape)
    out = np.where(at_end, values[-1], out)
    outside = ((target < times[0]) | (target > times[-1])).reshape(w.shape)
    return np.where(outside, np.nan, out)


def read_timeline(csv_path: str | Path) -> np.ndarray:
    """Times (s) from a CSV: the ``time`` column if present, else the first column; must increase."""
    path = Path(csv_path)
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read timeline CSV ({err}); give one column of times in seconds") from err
    column = "time" if "time" in table.columns else table.columns[0]
    times = pd.to_numeric(table[column], errors="coerce").to_numpy(np.float64)
    if times.size == 0 or np.isnan(times).any():
        raise InputError(f"{path}: column {column!r} must hold numeric times in seconds on every row")
    if np.any(np.diff(times) < 0):
        raise UsageError(f"{path}: times in column {column!r} must not decrease")
    return times
