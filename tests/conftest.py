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


# The real single-node SLURM cluster: one per test session, shared by the SLURM and container tests.
from slurm_cluster import slurm_cluster  # noqa: E402,F401
