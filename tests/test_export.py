"""udmt.export: every format read back by its real consumer gives the store's positions."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from movement.io import load_poses

from udmt import store
from udmt.cli.app import run_app
from udmt.errors import UsageError
from udmt.export import export_store

NAMES = ["animal_0", "animal_1", "animal_2"]
T = 50


@pytest.fixture()
def tracks_store(tmp_path: Path) -> tuple[Path, store.Tracks]:
    rng = np.random.default_rng(7)
    position = rng.uniform(0, 1024, (T, 3, 2)).astype(np.float32)
    position[5:9, 1] = np.nan  # a gap
    position[:, 2] = np.nan  # an animal never found
    confidence = rng.random((T, 3)).astype(np.float32)
    flags = rng.integers(0, 32, (T, 3), dtype=np.uint8)
    path = tmp_path / "tracks.zarr"
    store.create_store(
        path, n_frames=T, individuals=NAMES, fps=25.0, time_chunk=25, attrs={"video": {"path": "/data/v.mp4"}}
    )
    store.write_block(path, 0, position[:25], confidence[:25], flags[:25])
    store.write_block(path, 25, position[25:], confidence[25:], flags[25:])
    return path, store.read_tracks(path)


def _movement_xy(ds) -> np.ndarray:
    """(T, N, 2) positions of the single keypoint of a movement poses dataset."""
    return ds.position.values[:, :, 0, :].transpose(0, 2, 1)


def test_csv(tracks_store: tuple[Path, store.Tracks], tmp_path: Path) -> None:
    path, tracks = tracks_store
    out = tmp_path / "tracks.csv"
    assert export_store(path, "csv", out) == [out]
    table = pd.read_csv(out)
    assert list(table.columns) == ["frame", "time", "individual", "x", "y", "confidence", "flags"]
    assert len(table) == T * 3
    row = table[(table.frame == 30) & (table.individual == "animal_1")].iloc[0]
    assert row.time == pytest.approx(30 / 25)
    assert (row.x, row.y) == pytest.approx(tuple(tracks.position[30, 1]), rel=1e-6)
    assert row["flags"] == tracks.flags[30, 1]
    xy = table[["x", "y"]].to_numpy().reshape(T, 3, 2)
    np.testing.assert_allclose(xy, tracks.position, rtol=1e-6)  # NaN positions read back as NaN


def test_sleap_analysis_read_by_movement_and_sleap_io(tracks_store: tuple[Path, store.Tracks], tmp_path: Path) -> None:
    path, tracks = tracks_store
    out = tmp_path / "tracks.analysis.h5"
    export_store(path, "sleap", out)
    ds = load_poses.from_sleap_file(out, fps=25)
    assert list(ds.individuals.values) == NAMES and list(ds.keypoints.values) == ["centroid"]
    np.testing.assert_array_equal(_movement_xy(ds), tracks.position)
    np.testing.assert_array_equal(ds.confidence.values[:, 0, :], tracks.confidence)
    with h5py.File(out) as f:
        assert f["tracks"].shape == (3, 2, 1, T) and f["track_occupancy"].shape == (T, 3)
        assert f["track_occupancy"][:, 2].sum() == 0 and f["track_occupancy"][:, 0].sum() == T
        assert f["video_path"][()].decode() == "/data/v.mp4"
        for key in ("point_scores", "instance_scores", "tracking_scores", "labels_path", "video_ind", "provenance"):
            assert key in f
    import sleap_io

    labels = sleap_io.load_analysis_h5(str(out))
    assert [t.name for t in labels.tracks] == NAMES
    frame = next(lf for lf in labels.labeled_frames if lf.frame_idx == 30)
    by_track = {inst.track.name: inst.numpy()[0] for inst in frame.instances}
    np.testing.assert_array_equal(by_track["animal_0"], tracks.position[30, 0])


def test_dlc_read_by_movement(tracks_store: tuple[Path, store.Tracks], tmp_path: Path) -> None:
    path, tracks = tracks_store
    out = tmp_path / "tracksDLC_udmt.h5"
    export_store(path, "dlc", out)
    ds = load_poses.from_dlc_file(out, fps=25)
    assert list(ds.individuals.values) == NAMES
    np.testing.assert_array_equal(_movement_xy(ds), tracks.position)
    np.testing.assert_array_equal(ds.confidence.values[:, 0, :], tracks.confidence)
    df = pd.read_hdf(out, key="df_with_missing")
    assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert set(df.columns.get_level_values("coords")) == {"x", "y", "likelihood"}


@pytest.mark.parametrize("suffix", [".npy", ".h5"])
def test_idtracker(tracks_store: tuple[Path, store.Tracks], tmp_path: Path, suffix: str) -> None:
    path, tracks = tracks_store
    out = tmp_path / f"trajectories{suffix}"
    export_store(path, "idtracker", out)
    if suffix == ".npy":
        data = np.load(out, allow_pickle=True).item()  # how idtracker.ai loads its own file
        trajectories, fps = data["trajectories"], data["frames_per_second"]
    else:
        with h5py.File(out) as f:
            trajectories, fps = f["trajectories"][:], f.attrs["frames_per_second"]
    assert trajectories.shape == (T, 3, 2) and fps == 25.0
    np.testing.assert_array_equal(trajectories, tracks.position)


def test_export_rejects_bad_names(tracks_store: tuple[Path, store.Tracks], tmp_path: Path) -> None:
    path, _ = tracks_store
    with pytest.raises(UsageError, match="written as .h5"):
        export_store(path, "sleap", tmp_path / "x.csv")
    with pytest.raises(UsageError, match="unknown export format"):
        export_store(path, "xls", tmp_path / "x.xls")


def test_cli_export(tracks_store: tuple[Path, store.Tracks], tmp_path: Path) -> None:
    path, tracks = tracks_store
    out = tmp_path / "b.csv"
    assert run_app(["export", str(path), "--format", "behaviour", "-o", str(out), "--proximity-px", "5000"]) == 0
    table = pd.read_csv(out)
    assert {"speed_px_per_s", "nn_distance_px", "nearest"} <= set(table.columns)
    events = pd.read_csv(tmp_path / "b_proximity.csv")
    assert len(events) == 2  # animal_0–animal_1, interrupted by animal_1's gap at frames 5..8
    assert run_app(["export", str(path), "--format", "sleap", "-o", str(tmp_path / "x.csv")]) == 2
    assert run_app(["export", str(tmp_path / "nope.zarr"), "--format", "csv", "-o", str(out)]) == 3


def test_behaviour_on_external_timeline(tracks_store: tuple[Path, store.Tracks], tmp_path: Path) -> None:
    """Positions resampled halfway between frames 10 and 11 are the midpoint; outside the recording: empty."""
    path, tracks = tracks_store
    timeline = tmp_path / "ephys.csv"
    timeline.write_text("time\n0.42\n10.0\n")  # 0.42 s = frame 10.5 at 25 fps; 10 s is past the end
    out = tmp_path / "aligned.csv"
    export_store(path, "behaviour", out, timeline=timeline)
    table = pd.read_csv(out)
    assert "frame" not in table.columns and len(table) == 2 * 3
    first = table[(table.time == 0.42) & (table.individual == "animal_0")].iloc[0]
    midpoint = (tracks.position[10, 0].astype(np.float64) + tracks.position[11, 0]) / 2
    assert (first.x, first.y) == pytest.approx(tuple(midpoint), rel=1e-6)
    assert table[table.time == 10.0][["x", "y"]].isna().all().all()
