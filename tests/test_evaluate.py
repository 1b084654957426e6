"""udmt.evaluate: hand-computed MOTA/IDF1/HOTA cases, ground-truth reading, store scoring and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from udmt import store
from udmt.cli.app import run_app
from udmt.errors import InputError, UsageError
from udmt.evaluate import HOTA_ALPHAS, evaluate, evaluate_store, read_ground_truth

from real_data import THREE_FLIES_GT, needs_real

RADIUS = 10.0


def _walkers(t: int = 40, n: int = 2) -> np.ndarray:
    """``n`` animals walking in parallel lines 100 px apart (never within each other's radius)."""
    frames = np.arange(t, dtype=np.float64)
    return np.stack([np.stack([frames * 2.0, np.full(t, 100.0 * (i + 1))], -1) for i in range(n)], 1)


def test_perfect_tracks_score_one() -> None:
    gt = _walkers()
    m = evaluate(gt.copy(), gt, RADIUS)
    for value in (m.mota, m.idf1, m.idp, m.idr, m.precision, m.recall, m.hota, m.deta, m.assa, m.loca):
        assert value == pytest.approx(1.0)
    assert m.id_switches == 0 and m.loc_error_mean_px == 0.0 and m.n_frames == 40 and m.matches == 80


def test_identities_swapped_halfway() -> None:
    """Each gt id is split evenly over two predicted ids: AssA = 1/3 (hand-computed), DetA = 1, 2 switches."""
    gt = _walkers(t=40)
    pred = gt.copy()
    pred[20:] = pred[20:, ::-1]
    m = evaluate(pred, gt, RADIUS)
    assert m.deta == pytest.approx(1.0)
    assert m.assa == pytest.approx(1 / 3)
    assert m.hota == pytest.approx(math.sqrt(1 / 3))
    assert m.id_switches == 2
    assert m.mota == pytest.approx(1 - 2 / 80)
    assert m.idf1 == pytest.approx(0.5)


def test_missing_detections() -> None:
    """The prediction has the animal in half of the frames: DetA = 1/2, AssA = 1/2, HOTA = 1/2."""
    gt = _walkers(t=40, n=1)
    pred = gt.copy()
    pred[::2] = np.nan
    m = evaluate(pred, gt, RADIUS)
    assert (m.deta, m.assa, m.hota) == pytest.approx((0.5, 0.5, 0.5))
    assert m.recall == pytest.approx(0.5) and m.precision == pytest.approx(1.0)
    assert m.mota == pytest.approx(0.5) and m.misses == 20


def test_constant_offset_localisation() -> None:
    """Every prediction is radius/2 away: S = 0.5, so only α ≤ 0.5 (10 of 19 thresholds) count."""
    gt = _walkers()
    pred = gt + np.array([3.0, 4.0])  # 5 px = RADIUS / 2
    m = evaluate(pred, gt, RADIUS)
    assert len(HOTA_ALPHAS) == 19
    assert m.hota == pytest.approx(10 / 19)
    assert m.loca == pytest.approx((10 * 0.5 + 9 * 1.0) / 19)  # TrackEval: LocA is 1 where nothing matched
    assert m.loc_error_mean_px == pytest.approx(5.0) and m.loc_error_median_px == pytest.approx(5.0)
    assert m.mota == pytest.approx(1.0)  # inside the radius everywhere


def test_short_prediction_counts_missing_frames_as_misses() -> None:
    gt = _walkers(t=40)
    m = evaluate(gt[:30], gt, RADIUS)
    assert m.misses == 20 and m.recall == pytest.approx(60 / 80) and m.n_frames == 40
    assert evaluate(np.concatenate([gt, gt]), gt, RADIUS).mota == pytest.approx(1.0)  # extra frames ignored


def test_false_positive_far_away() -> None:
    gt = _walkers(t=10, n=1)
    pred = np.concatenate([gt, gt + 500.0], axis=1)
    m = evaluate(pred, gt, RADIUS)
    assert m.false_positives == 10 and m.precision == pytest.approx(0.5)
    assert m.deta == pytest.approx(0.5) and m.mota == pytest.approx(0.0)


def test_read_ground_truth(tmp_path: Path) -> None:
    csv = tmp_path / "gt.csv"
    csv.write_text("frame,id,x,y,track\n0,0,1.5,2.5,a\n0,3,4,5,b\n2,3,6,7,b\n")
    truth = read_ground_truth(csv)
    assert truth.ids == [0, 3] and truth.position.shape == (3, 2, 2)
    np.testing.assert_array_equal(truth.position[0], [[1.5, 2.5], [4, 5]])
    assert np.isnan(truth.position[1]).all() and np.isnan(truth.position[2, 0]).all()
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,x,y\n0,1,2\n")
    with pytest.raises(InputError, match=r"bad.csv.*\['id'\]"):
        read_ground_truth(bad)
    with pytest.raises(InputError, match="nope.csv"):
        read_ground_truth(tmp_path / "nope.csv")


def _store_from(tmp_path: Path, position: np.ndarray) -> Path:
    path = tmp_path / "pred.zarr"
    path.parent.mkdir(exist_ok=True)
    t, n, _ = position.shape
    store.create_store(path, n_frames=t, individuals=[f"animal_{i}" for i in range(n)], fps=25, time_chunk=t, attrs={})
    store.write_block(path, 0, position, np.ones((t, n)), np.zeros((t, n), np.uint8))
    return path


@needs_real
def test_store_against_real_ground_truth(tmp_path: Path) -> None:
    """A real clip's ground truth scores 1.0 against itself and less once two ids swap halfway."""
    truth = read_ground_truth(THREE_FLIES_GT)
    pred = truth.position.astype(np.float32)
    exact = evaluate_store(_store_from(tmp_path / "exact", pred), THREE_FLIES_GT)  # radius from meta.json
    assert exact.radius_px == 35.0 and exact.n_frames == 128
    assert (exact.hota, exact.idf1, exact.mota) == pytest.approx((1.0, 1.0, 1.0))
    pred[64:] = pred[64:, [2, 1, 0]]
    swapped = evaluate_store(_store_from(tmp_path / "swapped", pred), THREE_FLIES_GT)
    assert swapped.hota < 0.95 and swapped.idf1 < 0.95


def test_radius_required_without_meta(tmp_path: Path) -> None:
    gt = _walkers(t=16)
    csv = tmp_path / "gt.csv"
    rows = [f"{t},{i},{gt[t, i, 0]},{gt[t, i, 1]}" for t in range(16) for i in range(2)]
    csv.write_text("frame,id,x,y\n" + "\n".join(rows) + "\n")
    path = _store_from(tmp_path, gt.astype(np.float32))
    with pytest.raises(UsageError, match="--radius"):
        evaluate_store(path, csv)
    assert evaluate_store(path, csv, radius=5).idf1 == pytest.approx(1.0)


def test_cli_eval_writes_json_and_reports_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = _walkers(t=16)
    csv = tmp_path / "gt.csv"
    rows = [f"{t},{i},{gt[t, i, 0]},{gt[t, i, 1]}" for t in range(16) for i in range(2)]
    csv.write_text("frame,id,x,y\n" + "\n".join(rows) + "\n")
    (tmp_path / "meta.json").write_text(json.dumps({"match_radius_px": 20}))
    path = _store_from(tmp_path, gt.astype(np.float32))
    out = tmp_path / "scores.json"
    assert run_app(["eval", str(path), "--gt", str(csv), "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert scores["idf1"] == 1.0 and scores["radius_px"] == 20.0
    assert "IDF1" in capsys.readouterr().out
    assert run_app(["eval", str(path), "--gt", str(tmp_path / "missing.csv")]) == 3
    assert run_app(["eval", str(path), "--gt", str(tmp_path / "elsewhere" / "gt.csv")]) == 3  # not "pass --radius"
    assert run_app(["eval", str(tmp_path / "missing.zarr"), "--gt", str(csv)]) == 3
