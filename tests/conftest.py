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
def track_with(synth_video_factory: Callable[..., Path]) -> Callable[..., object]:
    """``track_with(engine, scenario="mice") -> ChunkTracks``: a short synthetic video of three animals tracked with
    an untrained feature net (seed 0) on the given ``udmt.filters`` engine, to hold the engines to the same
    trajectories. "mice": 24 frames, compact animals; "worms": 48 frames in which thin worms touch, so that
    ``Tracker._split`` shares blobs by the animals' shapes."""
    import torch

    from udmt.model import FeatureNet
    from udmt.params import Params
    from udmt.scene import estimate_scene
    from udmt.track import track_chunk
    from udmt.video import VideoReader

    videos = {"mice": dict(n_frames=24, size=320), "worms": dict(n_frames=48, size=192)}
    params = Params(overlap_frames=8)

    def track(engine: str, scenario: str = "mice") -> object:
        video = synth_video_factory(scenario, n_animals=3, **videos[scenario]) / "video.mp4"
        torch.manual_seed(0)
        net = FeatureNet().eval()
        with VideoReader(video) as reader:
            scene = estimate_scene(reader, 3, params)
            return track_chunk(reader, scene, net, params, 0, reader.n_frames, engine=engine)

    return track


# The real single-node SLURM cluster: one per test session, shared by the SLURM and container tests.
from slurm_cluster import slurm_cluster  # noqa: E402,F401
