"""Shared session fixtures: small synthetic videos with ground truth (generated once per test session)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synth_video_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``make(scenario, n_frames=30, seed=0, n_animals=None, size=None, fps=None) -> Path`` of the scene directory.

    The directory holds ``video.mp4``, ``gt.csv`` and ``meta.json``; equal arguments return the same
    (cached) directory, so treat it as read-only.
    """
    from udmt.synth import generate

    cache: dict[tuple[object, ...], Path] = {}

    def make(scenario: str = "mice", *, n_frames: int = 30, seed: int = 0, n_animals: int | None = None,
             size: int | None = None, fps: float | None = None) -> Path:  # fmt: skip
        key = (scenario, n_frames, seed, n_animals, size, fps)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"synth-{scenario}-{seed}")
            cache[key] = generate(scenario, out, n_frames=n_frames, seed=seed, n_animals=n_animals, size=size,
                                  fps=fps)  # fmt: skip
        return cache[key]

    return make


@pytest.fixture(scope="session")
def track_with(synth_video_factory: Callable[..., Path]) -> Callable[[str], object]:
    """``track_with(engine) -> ChunkTracks``: 24 frames of three synthetic mice tracked with an untrained feature
    net (seed 0) on the given ``udmt.filters`` engine, to hold the engines to the same trajectories."""
    import torch

    from udmt.model import FeatureNet
    from udmt.params import Params
    from udmt.scene import estimate_scene
    from udmt.track import track_chunk
    from udmt.video import VideoReader

    video = synth_video_factory("mice", n_frames=24, n_animals=3, size=320) / "video.mp4"
    params = Params(overlap_frames=8)
    torch.manual_seed(0)
    net = FeatureNet().eval()

    def track(engine: str) -> object:
        with VideoReader(video) as reader:
            scene = estimate_scene(reader, 3, params)
            return track_chunk(reader, scene, net, params, 0, reader.n_frames, engine=engine)

    return track


# The real single-node SLURM cluster: one per test session, shared by the SLURM and container tests.
from slurm_cluster import slurm_cluster  # noqa: E402,F401
