"""End to end: `udmt track` on synthetic and real videos, the stage commands, resume, and the CLI's exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from udmt.cli.app import run_app
from udmt.individuals import MIN_ACCURACY
from udmt.params import Params
from udmt.pipeline import _identity_attrs, _InBackground, chunk_bounds
from udmt.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE
from udmt.evaluate import evaluate_store
from udmt.store import read_tracks

from real_data import REAL, needs_real

FAST = ["--train-seconds", "15", "-q"]


@pytest.fixture(scope="module")
def mice(synth_video_factory) -> Path:
    return synth_video_factory("mice", n_frames=300, size=320)


def test_work_in_the_background_gives_its_value_or_raises_its_error_to_the_caller() -> None:
    assert _InBackground(lambda: 7).result() == 7
    failing = _InBackground(lambda: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        failing.result()
    assert failing.done()


@pytest.fixture(scope="module")
def tracked(mice: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("track") / "mice.zarr"
    assert run_app(["track", str(mice / "video.mp4"), "-n", "5", "-o", str(out), "--workers", "1", *FAST]) == EXIT_OK
    return out


def test_track_scores_and_store_is_a_movement_dataset(tracked: Path, mice: Path) -> None:
    from movement.kinematics import compute_velocity
    from movement.validators.datasets import ValidPosesInputs

    metrics = evaluate_store(tracked, mice / "gt.csv")
    assert metrics.idf1 >= 0.85, metrics.as_dict()
    ds = xr.open_zarr(tracked)
    assert ds.attrs["ds_type"] == "poses" and ds.attrs["source_software"] == "udmt"
    assert ds.position.dims == ("time", "space", "keypoints", "individuals")
    ValidPosesInputs.validate(ds)
    velocity = compute_velocity(ds.position)
    assert np.isfinite(velocity.values).mean() > 0.95
    attrs = ds.attrs
    assert len(attrs["model_checksum"]) == 64 and attrs["video_hash"] and attrs["params"]["seed"] == 0
    # Whether the animals' looks could be learned is recorded (here: too few global fragments in 300 frames).
    report = attrs["identity_model"]
    assert report["used"] == (max(report["validation_accuracy"], report["merged_accuracy"] or 0.0) >= MIN_ACCURACY)
    # Per-identity figures name output animals, so they are given only where the net named the tracks.
    assert ("held_out_recall" in report) == report["used"]
    # Tuning is recorded, and the parameters in the store are the ones tracked with: the plan's, tuned ones replaced.
    tuning = attrs["tuning"]
    assert tuning["windows"] >= 1 and tuning["score"] <= tuning["given_score"]
    planned = json.loads((tracked.with_suffix(".udmt-run") / "manifest.json").read_text())["params"]
    assert attrs["params"] == {**planned, **tuning["chosen"]}


def test_per_identity_figures_are_given_by_output_animal() -> None:
    """Identity k is written as animal ``animal_of[k]``: its recall and look-alikes are reported under that name."""
    report = {"used": True, "held_out_recall": (0.99, 0.44, None), "look_alikes": ((1, 0),), "merged": (0, 1)}
    names = ["animal_0", "animal_1", "animal_2"]
    attrs = _identity_attrs(report, np.array([2, 0, 1]), names)
    assert attrs["held_out_recall"] == {"animal_2": 0.99, "animal_0": 0.44, "animal_1": None}
    assert attrs["look_alikes"] == [["animal_0", "animal_2"]] and attrs["merged"] == ["animal_2", "animal_0"]
    assert attrs["used"]
    assert _identity_attrs(report, None, names) == {"used": True}


def test_positions_are_in_original_pixels(tracked: Path, mice: Path) -> None:
    """Tracked centroids sit within a few pixels of the true body centres (not in working-resolution units)."""
    truth = np.loadtxt(mice / "gt.csv", delimiter=",", skiprows=1)
    first = truth[truth[:, 0] == 0][:, 2:4]
    got = read_tracks(tracked).position[0]
    nearest = np.min(np.linalg.norm(got[:, None, :] - first[None, :, :], axis=2), axis=1)
    assert np.median(nearest) < 4.0, nearest


def test_rerun_is_idempotent_and_stage_commands_give_the_same_store(tracked: Path, mice: Path, tmp_path: Path) -> None:
    run_dir = tracked.with_suffix(".udmt-run")
    assert (run_dir / "manifest.json").exists()
    before = read_tracks(tracked).position
    assert run_app(["track", str(mice / "video.mp4"), "-n", "5", "-o", str(tracked), "--workers", "1", *FAST]) == EXIT_OK
    np.testing.assert_array_equal(read_tracks(tracked).position, before)

    staged = tmp_path / "staged"
    assert run_app(["plan", str(mice / "video.mp4"), "-n", "5", "-o", str(staged), "--train-seconds", "15"]) == EXIT_OK
    shutil.copytree(run_dir / "models", staged / "models", dirs_exist_ok=True)  # same trained model
    manifest = json.loads((staged / "manifest.json").read_text())
    for task in manifest["tasks"]:
        assert run_app(["run-task", str(staged), "--task", str(task["index"]), "-q"]) == EXIT_OK
    assert run_app(["stitch", str(staged), "-q"]) == EXIT_OK
    np.testing.assert_array_equal(read_tracks(staged / "video.zarr").position, before)


def test_chunked_run_keeps_identities_across_chunks(mice: Path, tmp_path: Path) -> None:
    out = tmp_path / "chunked"
    code = run_app(["track", str(mice / "video.mp4"), "-n", "5", "-o", str(out), "--chunk-frames", "128",
                    "--overlap", "32", "--workers", "2", "--no-tune", *FAST])
    assert code == EXIT_OK
    store = out / "video.zarr"
    attrs = read_tracks(store).attrs
    assert len(attrs["chunk_plan"]) == 3 and len(attrs["stitch_links"]) == 2
    assert attrs["tuning"] is None and attrs["params"]["tune"] is False
    assert evaluate_store(store, mice / "gt.csv").idf1 >= 0.85


@pytest.mark.parametrize(("frames", "chunk", "sizes"), [
    (900, 1024, [900]),  # one chunk
    (1500, 1024, [768, 732]),  # two chunks that finish together, not 1024 + 476
    (2100, 1024, [768, 768, 564]),
    (3000, 1024, [1024, 1024, 952]),
    (300, 128, [128, 128, 44]),
    (130, 128, [130]),  # a short tail joins the last chunk
])  # fmt: skip
def test_chunks_are_as_few_as_the_chunk_size_allows_and_of_one_size(frames: int, chunk: int, sizes: list[int]) -> None:
    bounds = chunk_bounds(frames, Params(chunk_frames=chunk, overlap_frames=32))
    assert [stop - start for start, stop in bounds] == sizes
    assert bounds[0][0] == 0 and bounds[-1][1] == frames
    assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))
    assert all(start % Params().time_chunk == 0 for start, _ in bounds)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["track", "/nonexistent/video.mp4", "-n", "2", "-o", "x.zarr"], EXIT_BAD_INPUT),
        (["track", "VIDEO", "-n", "2", "-o", "x.zarr", "--bogus"], EXIT_USAGE),
        (["track", "VIDEO", "-o", "x.zarr"], EXIT_USAGE),  # neither -n nor --init
        (["track", "VIDEO", "-n", "2", "-o", "x.zarr", "--device", "tpu"], EXIT_USAGE),
        (["run-task", "/nonexistent-run", "--task", "0"], EXIT_USAGE),
    ],
)
def test_user_errors_exit_with_documented_codes(args, code, mice: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    args = [str(mice / "video.mp4") if a == "VIDEO" else a for a in args]
    assert run_app(args) == code
    err = capsys.readouterr().err.strip()
    assert err and "Traceback" not in err and len(err.splitlines()) <= 6


def test_init_points_outside_the_frame_are_refused(mice: Path, tmp_path: Path, capsys) -> None:
    points = tmp_path / "points.csv"
    points.write_text("x,y\n10,10\n5000,20\n")
    assert run_app(["track", str(mice / "video.mp4"), "--init", str(points), "-o", str(tmp_path / "o.zarr")]) == EXIT_BAD_INPUT
    assert "outside" in capsys.readouterr().err


@pytest.mark.slow
@needs_real
@pytest.mark.parametrize("clip", ["dreem_two_flies", "dreem_three_flies"])
def test_real_clips_with_automatic_start(clip: str, tmp_path: Path) -> None:
    meta = json.loads((REAL / clip / "meta.json").read_text())
    out = tmp_path / f"{clip}.zarr"
    args = ["track", str(REAL / clip / meta["video"]), "-n", str(meta["n_animals"]), "-o", str(out), *FAST]
    assert run_app(args) == EXIT_OK
    assert evaluate_store(out, REAL / clip / "gt.csv").idf1 >= 0.99
