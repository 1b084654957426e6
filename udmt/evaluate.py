"""Scoring a tracking result against ground truth: CLEAR-MOT (MOTA), identity (IDF1) and HOTA.

MOTA, IDF1/IDP/IDR, ID switches and precision/recall come from ``motmetrics`` on squared-Euclidean distance
matrices gated at ``radius²``. HOTA follows Luiten et al. (IJCV 2021) and the TrackEval reference
implementation, with a point similarity ``S = max(0, 1 - d / radius)`` instead of IoU: per frame, a Hungarian
matching maximises ``S`` weighted by each id pair's global alignment score, and each α in 0.05..0.95 keeps the
matched pairs with ``S ≥ α``. All per-frame maths is vectorised over frames; only the matching loops.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import motmetrics as mm
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from udmt.errors import InputError, UsageError
from udmt.progress import SILENT, Progress
from udmt.store import read_tracks

HOTA_ALPHAS = np.arange(0.05, 0.99, 0.05)  # 0.05, 0.10, …, 0.95 as in TrackEval
_EPS = 1e-10
_MOT_METRICS = [
    "mota",
    "idf1",
    "idp",
    "idr",
    "num_switches",
    "precision",
    "recall",
    "num_matches",
    "num_misses",
    "num_false_positives",
    "num_objects",
]


@dataclass
class GroundTruth:
    """Ground-truth positions ``(frames, ids, 2)``, NaN where an animal is not labelled."""

    position: np.ndarray
    ids: list[int]
    path: Path


@dataclass
class Metrics:
    """Scores of one prediction against one ground truth (fractions in 0–1, distances in pixels)."""

    mota: float
    idf1: float
    idp: float
    idr: float
    id_switches: int
    precision: float
    recall: float
    hota: float
    deta: float
    assa: float
    loca: float
    loc_error_mean_px: float
    loc_error_median_px: float
    matches: int
    misses: int
    false_positives: int
    gt_objects: int
    n_frames: int
    radius_px: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def read_ground_truth(csv_path: str | Path) -> GroundTruth:
    """Read a ``frame,id,x,y`` CSV (extra columns ignored) into a dense ``(frames, ids, 2)`` array."""
    path = Path(csv_path)
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read ground truth CSV ({err}); expected columns frame,id,x,y") from err
    missing = sorted({"frame", "id", "x", "y"} - set(table.columns))
    if missing:
        raise InputError(f"{path}: ground truth CSV lacks columns {missing}; expected frame,id,x,y")
    table = table.dropna(subset=["frame", "id"])
    if table.empty:
        raise InputError(f"{path}: ground truth CSV has no rows")
    frames = table["frame"].to_numpy(np.int64)
    if frames.min() < 0:
        raise InputError(f"{path}: negative frame index {frames.min()}; frames are 0-based")
    ids, columns = np.unique(table["id"].to_numpy(), return_inverse=True)
    position = np.full((int(frames.max()) + 1, len(ids), 2), np.nan)
    position[frames, columns] = table[["x", "y"]].to_numpy(np.float64)
    return GroundTruth(position=position, ids=[int(i) for i in ids], path=path)


def _squared_distances(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``(T, M, N)`` squared distances gt × pred; NaN where either point is unknown."""
    return ((gt[:, :, None, :] - pred[:, None, :, :]) ** 2).sum(-1)


def _mot_scores(d2: np.ndarray, gt_known: np.ndarray, pred_known: np.ndarray, radius: float, progress: Progress):
    """motmetrics accumulator over all frames; returns its summary row and the matched distances (px)."""
    gated = np.where(d2 <= radius**2, d2, np.nan)
    acc = mm.MOTAccumulator(auto_id=True)
    progress.start("scoring (CLEAR-MOT)", len(d2))
    for t in range(len(d2)):
        gi, pi = np.flatnonzero(gt_known[t]), np.flatnonzero(pred_known[t])
        acc.update(gi, pi, gated[t][np.ix_(gi, pi)])
        progress.advance()
    progress.stop()
    summary = mm.metrics.create().compute(acc, metrics=_MOT_METRICS, name="udmt").iloc[0]
    events = acc.mot_events
    matched = events[events["Type"].isin(["MATCH", "SWITCH"])]["D"].to_numpy(np.float64)
    return summary, np.sqrt(matched)


def _hota(similarity: np.ndarray, gt_known: np.ndarray, pred_known: np.ndarray) -> tuple[float, float, float, float]:
    """HOTA, DetA, AssA and LocA averaged over :data:`HOTA_ALPHAS`; ``similarity`` is ``(T, M, N)``, 0 if absent."""
    gt_count = gt_known.sum(0).astype(np.float64)  # frames each gt id is present
    pred_count = pred_known.sum(0).astype(np.float64)
    n_gt, n_pred = float(gt_count.sum()), float(pred_count.sum())
    # Global alignment score between each gt id and predicted id (soft IoU of their presence over time).
    denom = similarity.sum(2, keepdims=True) + similarity.sum(1, keepdims=True) - similarity
    soft = np.divide(similarity, denom, out=np.zeros_like(similarity), where=denom > _EPS).sum(0)
    alignment = soft / np.maximum(gt_count[:, None] + pred_count[None, :] - soft, _EPS)

    rows, cols, sims = [], [], []
    for t in np.flatnonzero(gt_known.any(1) & pred_known.any(1)):
        r, c = linear_sum_assignment(alignment * similarity[t], maximize=True)
        rows.append(r)
        cols.append(c)
        sims.append(similarity[t, r, c])
    rows_a = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols_a = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    sims_a = np.concatenate(sims) if sims else np.zeros(0)

    kept = sims_a[None, :] >= HOTA_ALPHAS[:, None] - _EPS  # (alphas, matches)
    tp = kept.sum(1).astype(np.float64)
    m, n = similarity.shape[1:]
    pair = rows_a * n + cols_a
    matches = np.stack([np.bincount(pair[k], minlength=m * n).reshape(m, n) for k in kept]).astype(np.float64)
    union = gt_count[None, :, None] + pred_count[None, None, :] - matches
    assa = (matches * matches / np.maximum(union, 1)).sum((1, 2)) / np.maximum(tp, 1)
    deta = tp / np.maximum(n_gt + n_pred - tp, 1)
    loca = np.maximum((kept * sims_a[None, :]).sum(1), _EPS) / np.maximum(tp, _EPS)
    hota = np.sqrt(deta * assa)
    return float(hota.mean()), float(deta.mean()), float(assa.mean()), float(loca.mean())


def evaluate(pred: np.ndarray, gt: np.ndarray, radius: float, progress: Progress = SILENT) -> Metrics:
    """Score predicted tracks ``(T, N, 2)`` against ground truth ``(T', M, 2)`` with a match radius in px.

    The ground truth fixes the frames scored: prediction frames beyond it are ignored and ground-truth frames
    the prediction does not reach count as misses.
    """
    if not radius > 0:
        raise UsageError(f"match radius must be positive, got {radius}")
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)[: len(gt)]
    if len(pred) < len(gt):
        pad = np.full((len(gt) - len(pred), *pred.shape[1:]), np.nan)
        pred = np.concatenate([pred, pad])
    gt_known = ~np.isnan(gt).any(-1)
    pred_known = ~np.isnan(pred).any(-1)
    d2 = _squared_distances(pred, gt)
    summary, matched_px = _mot_scores(d2, gt_known, pred_known, radius, progress)
    similarity = np.nan_to_num(np.maximum(0.0, 1.0 - np.sqrt(d2) / radius), nan=0.0)
    hota, deta, assa, loca = _hota(similarity, gt_known, pred_known)
    return Metrics(
        mota=float(summary["mota"]),
        idf1=float(summary["idf1"]),
        idp=float(summary["idp"]),
        idr=float(summary["idr"]),
        id_switches=int(summary["num_switches"]),
        precision=float(summary["precision"]),
        recall=float(summary["recall"]),
        hota=hota,
        deta=deta,
        assa=assa,
        loca=loca,
        loc_error_mean_px=float(matched_px.mean()) if matched_px.size else float("nan"),
        loc_error_median_px=float(np.median(matched_px)) if matched_px.size else float("nan"),
        matches=int(summary["num_matches"]),
        misses=int(summary["num_misses"]),
        false_positives=int(summary["num_false_positives"]),
        gt_objects=int(summary["num_objects"]),
        n_frames=len(gt),
        radius_px=float(radius),
    )


def radius_from_meta(gt_csv: str | Path) -> float | None:
    """``match_radius_px`` from the ``meta.json`` beside the ground truth, if there is one."""
    meta = Path(gt_csv).with_name("meta.json")
    if not meta.is_file():
        return None
    try:
        value = json.loads(meta.read_text()).get("match_radius_px")
    except (OSError, ValueError) as err:
        raise InputError(f"{meta}: cannot read ({err}); fix it or pass --radius") from err
    return None if value is None else float(value)


def evaluate_store(
    store: str | Path, gt_csv: str | Path, radius: float | None = None, progress: Progress = SILENT
) -> Metrics:
    """Score a udmt store against a ground-truth CSV; the radius defaults to ``meta.json``'s ``match_radius_px``."""
    truth = read_ground_truth(gt_csv)
    tracks = read_tracks(store)
    if radius is None:
        radius = radius_from_meta(gt_csv)
    if radius is None:
        raise UsageError(f"no match_radius_px in a meta.json beside {gt_csv}; pass --radius PIXELS")
    return evaluate(tracks.position, truth.position, radius, progress)
