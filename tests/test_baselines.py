"""benchmarks/baselines.py: the blob tracker's matching and calibration, both baselines on short synthetic scenes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from udmt.errors import InputError
from udmt.evaluate import GroundTruth, evaluate, read_ground_truth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # benchmarks/ is not a package
import baselines  # noqa: E402


def _clip(scene: Path, name: str) -> baselines.Clip:
    return baselines.Clip(name, scene / "video.mp4", scene / "gt.csv", json.loads((scene / "meta.json").read_text()))


def test_assign_gates_then_recovers_lost_tracks() -> None:
    previous = np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0]])
    # Track 0 moved a little; track 1's animal is far away (beyond the gate) and nobody else wants that blob;
    # track 2 has nothing left (merged or missed) and must stay put.
    candidates = np.array([[120.0, 300.0], [3.0, 4.0]])
    nxt = baselines.assign(previous, candidates, gate=20.0)
    # Track 1 is closer to the far blob than track 2 (Hungarian on the leftovers), so it takes it.
    np.testing.assert_array_equal(nxt, [[3.0, 4.0], [120.0, 300.0], [200.0, 0.0]])
    np.testing.assert_array_equal(baselines.assign(previous, np.zeros((0, 2)), gate=20.0), previous)


def test_assign_prefers_the_joint_optimum_over_greedy() -> None:
    """Closest pair first would give track 0 the blob at 4 and leave track 1 only the one 17 px away."""
    previous = np.array([[0.0, 0.0], [10.0, 0.0]])
    candidates = np.array([[4.0, 0.0], [-7.0, 0.0]])
    np.testing.assert_array_equal(baselines.assign(previous, candidates, gate=9.0), [[-7.0, 0.0], [4.0, 0.0]])


def test_calibrate_finds_polarity_and_a_threshold_between_noise_and_animals() -> None:
    rng = np.random.default_rng(0)
    background = np.full((120, 120), 180.0, np.float32)
    frame = np.clip(background + rng.normal(0, 2, background.shape), 0, 255)
    centres = np.array([[30.0, 30.0], [90.0, 40.0], [60.0, 95.0]])
    for x, y in centres[:2]:  # the third animal sat still and is part of the background: no contrast
        frame[int(y) - 4 : int(y) + 5, int(x) - 8 : int(x) + 9] = 60.0
    model = baselines.calibrate(background, frame.astype(np.uint8), centres, body_length=18.0)
    assert model.polarity == -1.0
    assert 8.0 < model.threshold < 120.0
    found = model.centroids(frame.astype(np.uint8))
    np.testing.assert_allclose(found, centres[:2], atol=0.6)


def test_start_positions_need_every_animal_at_frame_0(tmp_path: Path) -> None:
    position = np.array([[[1.0, 2.0], [np.nan, np.nan]], [[1.0, 2.0], [3.0, 4.0]]])
    with pytest.raises(InputError, match="gt.csv: frame 0"):
        baselines.start_positions(GroundTruth(position, [0, 1], tmp_path / "gt.csv"))


def test_synth_clip_reuses_a_matching_render(tmp_path: Path) -> None:
    first = baselines.synth_clip("flies", tmp_path, frames=4)
    stamp = first.video.stat().st_mtime_ns
    again = baselines.synth_clip("flies", tmp_path, frames=4)
    assert again == first and again.video.stat().st_mtime_ns == stamp
    longer = baselines.synth_clip("flies", tmp_path, frames=6)
    assert longer.meta["frames"] == 6 and len(read_ground_truth(longer.gt).position) == 6


def test_blob_baseline_tracks_an_easy_scene(synth_video_factory: Callable[..., Path]) -> None:
    """Four flies on a back-lit floor, moving enough for the median background to be clean."""
    clip = _clip(synth_video_factory("flies", n_frames=90, n_animals=4, size=320), "flies")
    row = baselines.measure(clip, "blobs")
    assert (row["animals"], row["frames"], row["lost"]) == (4, 90, 0)
    assert row["idf1"] > 0.95 and row["mota"] > 0.95 and row["id_switches"] == 0
    assert row["fps"] > 0


def test_csrt_baseline_follows_animals(synth_video_factory: Callable[..., Path]) -> None:
    if reason := baselines.csrt_missing():
        pytest.skip(reason)
    scene = synth_video_factory("flies", n_frames=20, n_animals=2, size=320)
    clip = _clip(scene, "flies")
    truth = read_ground_truth(clip.gt)
    start = baselines.start_positions(truth)
    position = baselines.track_csrt(clip.video, start, clip.body_lengths)
    assert position.shape == (20, 2, 2)
    np.testing.assert_array_equal(position[0], start)
    assert evaluate(position, truth.position, clip.meta["match_radius_px"]).idf1 > 0.9
