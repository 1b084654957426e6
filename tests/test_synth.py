"""udmt.synth: files and metadata, determinism, real encounters, and ground truth lying on the animals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from udmt.cli.app import run_app
from udmt.errors import UsageError
from udmt.synth import SCENARIOS, generate
from udmt.synth.motion import Arena, simulate
from udmt.video import VideoReader

SceneFactory = Callable[..., Path]


def _gt(scene: Path) -> np.ndarray:
    """Ground truth as ``(T, N, 2)``."""
    meta = json.loads((scene / "meta.json").read_text())
    rows = np.loadtxt(scene / "gt.csv", delimiter=",", skiprows=1)
    assert rows.shape == (meta["frames"] * meta["n_animals"], 4)
    return rows[:, 2:].reshape(meta["frames"], meta["n_animals"], 2)


def test_scenario_names_are_the_documented_ones() -> None:
    assert list(SCENARIOS) == ["mice", "white-mice", "flies", "rat-mice", "worms", "fish", "mice-crowded", "long"]
    long = SCENARIOS["long"]
    assert (long.n_animals, long.size, long.fps, long.frames) == (4, 320, 15.0, 18000)


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "long"])
def test_animals_meet_touch_and_stay_in_the_arena(name: str) -> None:
    scn = SCENARIOS[name]
    rng = np.random.default_rng(0)
    lengths = scn.body_length * rng.uniform(0.9, 1.1, scn.n_animals)
    c = (scn.size - 1) / 2
    arena = Arena(scn.arena, c, c, scn.arena_frac * scn.size / 2)
    traj = simulate(scn.motion, arena, lengths, scn.frames, scn.fps, 1.0, rng)
    pos = traj.position
    gaps = np.linalg.norm(pos[:, :, None] - pos[:, None, :], axis=-1) + np.eye(scn.n_animals) * 1e9
    assert gaps[0].min() > lengths.max()  # the first frame is a clean one (all apart)
    assert gaps.min() < 0.6 * np.median(lengths)  # somewhere they touch or cross
    assert (arena.wall_distance(pos.reshape(-1, 2))[0] > 0).all()
    steps = np.linalg.norm(np.diff(pos, axis=0), axis=-1)
    assert (traj.speed == 0).mean() < 0.9 and steps.max() > 0  # they move
    if name == "flies":
        assert 10.0 < steps.max() <= 15.0 + 2.0  # fast bursts, capped near 15 px/frame (+ overlap pushes)


def test_files_meta_and_video_agree(synth_video_factory: SceneFactory) -> None:
    scene = synth_video_factory("mice", n_frames=30)
    meta = json.loads((scene / "meta.json").read_text())
    for key in ("scenario", "seed", "n_animals", "frames", "fps", "width", "height", "body_length_px",
                "match_radius_px", "species"):  # fmt: skip
        assert key in meta
    assert (meta["scenario"], meta["n_animals"], meta["frames"], meta["width"]) == ("mice", 5, 30, 640)
    assert meta["match_radius_px"] == pytest.approx(meta["body_length_px"] / 2, abs=1e-3)
    assert (scene / "gt.csv").read_text().splitlines()[0] == "frame,id,x,y"
    gt = _gt(scene)
    assert ((gt >= 0) & (gt <= 639)).all()
    with VideoReader(scene / "video.mp4") as reader:
        assert (reader.n_frames, reader.width, reader.height, reader.fps) == (30, 640, 640, 30.0)
        assert len(list(reader.frames())) == 30


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    runs = {name: generate("flies", tmp_path / name, n_frames=12, seed=seed, size=160)
            for name, seed in (("a", 5), ("b", 5), ("c", 6))}  # fmt: skip

    def decoded(scene: Path) -> np.ndarray:
        with VideoReader(scene / "video.mp4") as reader:
            return np.stack([frame for _, frame in reader.frames()])

    assert (runs["a"] / "gt.csv").read_bytes() == (runs["b"] / "gt.csv").read_bytes()
    np.testing.assert_array_equal(decoded(runs["a"]), decoded(runs["b"]))
    assert (runs["a"] / "gt.csv").read_bytes() != (runs["c"] / "gt.csv").read_bytes()
    assert not np.array_equal(decoded(runs["a"]), decoded(runs["c"]))


@pytest.mark.parametrize("name", ["mice", "white-mice", "flies", "worms", "fish", "rat-mice"])
def test_ground_truth_lies_on_the_animals(synth_video_factory: SceneFactory, name: str) -> None:
    """At every true centre the pixel differs from the nearby floor in the scene's animal polarity."""
    scene = synth_video_factory(name, n_frames=12, seed=1)
    meta = json.loads((scene / "meta.json").read_text())
    gt = _gt(scene)
    sign = -1.0 if meta["animal_polarity"] == "dark" else 1.0
    reach = int(1.6 * meta["body_length_px"]) + 1
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    ring = (np.hypot(dx, dy) > 1.3 * meta["body_length_px"]) & (np.hypot(dx, dy) < reach)
    with VideoReader(scene / "video.mp4") as reader:
        for t in (0, 6, 11):
            frame = np.pad(reader.read(t).astype(float), reach, mode="constant", constant_values=np.nan)
            for x, y in gt[t]:
                i, j = int(round(y)) + reach, int(round(x)) + reach
                floor = np.nanmedian(frame[i - reach : i + reach + 1, j - reach : j + reach + 1][ring])
                assert sign * (np.median(frame[i - 1 : i + 2, j - 1 : j + 2]) - floor) > 12, (name, t, x, y)


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown scenario 'moose'.*mice-crowded"):
        generate("moose", tmp_path)
    with pytest.raises(UsageError, match="even"):
        generate("mice", tmp_path, size=641, n_frames=1)
    with pytest.raises(UsageError, match="positive"):
        generate("mice", tmp_path, n_frames=0)


def test_cli_synth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(["synth", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in SCENARIOS)
    assert run_app(["synth", "hamsters", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "hamsters" in err and "white-mice" in err
    assert not (tmp_path / "x").exists()
    out = tmp_path / "worms"
    assert run_app(["synth", "worms", "-o", str(out), "--frames", "5", "--animals", "3", "--size", "200",
                    "--fps", "10", "--seed", "4", "--quiet"]) == 0  # fmt: skip
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["frames"], meta["n_animals"], meta["width"], meta["fps"], meta["seed"]) == (5, 3, 200, 10.0, 4)
