"""udmt.render: overlay frame count and size, per-animal colours at the tracked points, flags, CLI errors."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

store = pytest.importorskip("udmt.store")  # written in parallel; skip only while it does not exist

from udmt.cli.app import run_app  # noqa: E402
from udmt.render import GREY, colour, render_overlay  # noqa: E402
from udmt.video import VideoWriter  # noqa: E402

T, N, SIZE = 12, 3, 200


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """A plain grey video and a store: animals moving on straight lines; animal 2 doubtful from frame 6."""
    root = tmp_path_factory.mktemp("render")
    video = root / "video.mp4"
    with VideoWriter(video, SIZE, SIZE, 10) as writer:
        for _ in range(T):
            writer.write(np.full((SIZE, SIZE), 90, np.uint8))
    t = np.arange(T, dtype=np.float32)[:, None]
    position = np.stack([np.stack([40 + 5 * t[:, 0], np.full(T, 50.0 + 50 * i)], axis=1) for i in range(N)], 1)
    confidence = np.full((T, N), 0.9, np.float32)
    confidence[6:, 2] = 0.1
    flags = np.zeros((T, N), np.uint8)
    flags[3, 1] = store.FLAG_CORRECTED
    path = root / "tracks.zarr"
    store.create_store(path, n_frames=T, individuals=[f"animal_{i}" for i in range(N)], fps=10, time_chunk=4,
                       attrs={})  # fmt: skip
    store.write_block(path, 0, position, confidence, flags)
    return path, video, position


def _rgb_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def test_overlay_has_the_frames_and_the_animal_colours(scene: tuple[Path, Path, np.ndarray], tmp_path: Path) -> None:
    store_path, video, position = scene
    out = render_overlay(store_path, video, tmp_path / "overlay.mp4", start=2, stop=10, trail=5)
    frames = _rgb_frames(out)
    assert frames.shape == (8, SIZE, SIZE, 3)
    for k, t in enumerate(range(2, 10)):
        for i in range(N):
            x, y = position[t, i]
            pixel = frames[k, int(round(y)), int(round(x))].astype(int)
            expected = GREY if (i == 2 and t >= 6) else colour(i)
            assert np.abs(pixel - expected).max() < 40, (t, i, pixel, expected)
    # the trail: halfway between the current and an earlier position, the colour shows over the grey floor
    x, y = (position[9, 0] + position[7, 0]) / 2
    assert np.abs(frames[7, int(round(y)), int(round(x))].astype(int) - 90).max() > 30


def test_cli_render_and_its_errors(scene: tuple[Path, Path, np.ndarray], tmp_path: Path) -> None:
    store_path, video, _ = scene
    out = tmp_path / "o.mp4"
    assert run_app(["render", str(store_path), str(video), "-o", str(out), "--stop", "3", "--quiet"]) == 0
    assert len(_rgb_frames(out)) == 3
    assert run_app(["render", str(store_path), str(tmp_path / "missing.mp4"), "-o", str(out)]) == 3
    assert run_app(["render", str(tmp_path / "missing.zarr"), str(video), "-o", str(out)]) == 3
    other = tmp_path / "short.mp4"
    with VideoWriter(other, SIZE, SIZE, 10) as writer:
        writer.write(np.zeros((SIZE, SIZE), np.uint8))
    assert run_app(["render", str(store_path), str(other), "-o", str(out)]) == 3  # not the tracked video
    assert run_app(["render", str(store_path), str(video), "-o", str(out), "--start", "20"]) == 2
