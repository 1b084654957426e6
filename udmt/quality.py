"""Unsupervised quality estimate: track back over stretches of the result and see whether every animal comes home.

The training signal of UDMT, used as a check. In a few windows spread through a chunk, a fresh tracker starts at
the result's positions on the window's last frame and tracks backward to its first; where the result is right,
the backward track ends where the result began the window (up to the filter's own jitter). A large error marks a
window where the result jumped to another animal or to the background — or where the backward tracker did, so
the estimate is a bound on the trouble, not a count of errors. No ground truth is involved.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from udmt.filters import Engine
from udmt.model import FeatureNet
from udmt.params import Params
from udmt.scene import Scene, observe
from udmt.track import ChunkTracks, Tracker, run_tracker
from udmt.video import VideoReader

CHECK_WINDOWS = 4  # per chunk at most: one per four windows' length of frames, at least one
CHECK_FRAMES = 32  # frames per window: long enough to cross a touch, short enough to be cheap


def forward_backward_errors(
    reader: VideoReader, scene: Scene, net: FeatureNet, params: Params, tracks: ChunkTracks,
    windows: int | None = None, length: int = CHECK_FRAMES, engine: Engine = "kernels",
) -> np.ndarray:  # fmt: skip
    """(k, N) original-px distance between each animal's result at the first frame of each of k windows and where
    tracking back from the window's last frame put it; NaN where either is unknown. Windows whose last frame
    lacks a position for some animal are skipped (the tracker needs every animal to start). By default short
    chunks get fewer windows, so that the check costs at most a quarter of the chunk's frames (or one window)."""
    total, n = tracks.position.shape[:2]
    if total < length:
        return np.zeros((0, n), np.float32)
    if windows is None:
        windows = max(1, min(CHECK_WINDOWS, total // (4 * length)))
    errors = []
    for last in np.unique(np.linspace(length - 1, total - 1, windows).round().astype(int)):
        first = last - length + 1
        if not np.isfinite(tracks.position[last]).all():
            continue
        frames = reader.frames(tracks.start + first, tracks.start + last + 1)
        observations = [observe(i, frame, scene, params) for i, frame in frames]
        if len(observations) < length:  # a truncated video ends inside the window
            continue
        start = (tracks.position[last].astype(np.float64) + 0.5) / scene.factor - 0.5
        *_, (_, result) = run_tracker(Tracker(scene, net, params, start, engine), reversed(observations))
        errors.append(np.linalg.norm(scene.to_original(result.position) - tracks.position[first], axis=1))
    return np.array(errors, np.float32).reshape(-1, n)


def summary(errors: np.ndarray, body_length: float) -> dict[str, Any]:
    """The store's ``qc.forward_backward``: how many animal-windows were checked, the median and 95th percentile
    error (original px), and the fraction of checks that came home within a quarter of a body length."""
    checked = errors[np.isfinite(errors)]
    if len(checked) == 0:
        return {"checks": 0, "median_px": None, "p95_px": None, "returned": None}
    return {"checks": int(len(checked)), "median_px": round(float(np.median(checked)), 2),
            "p95_px": round(float(np.percentile(checked, 95)), 2),
            "returned": round(float((checked <= 0.25 * body_length).mean()), 4)}
