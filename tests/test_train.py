"""Bidirectional-consistency training: the step budget, and the same net from the same seed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from udmt.params import Params
from udmt.scene import estimate_scene
from udmt.train import MIN_STEPS, step_budget, train_feature_net
from udmt.video import VideoReader


@pytest.mark.parametrize(("frames", "steps"), [(10, MIN_STEPS), (240, MIN_STEPS), (900, 112), (100_000, 400)])
def test_one_step_per_eight_frames_within_bounds(frames: int, steps: int) -> None:
    assert step_budget(frames, Params()) == steps
    assert step_budget(frames, Params(train_steps=20)) == 20


def test_the_same_seed_trains_the_same_net_and_another_seed_another(synth_video_factory: Callable[..., Path]) -> None:
    video = synth_video_factory("mice", n_frames=240, size=320, n_animals=3) / "video.mp4"

    def train(seed: int) -> tuple[dict[str, torch.Tensor], object]:
        params = Params(seed=seed)
        threads = torch.get_num_threads()
        torch.set_num_threads(params.train_threads)  # as the train stage does: float sums depend on it
        try:
            with VideoReader(video) as reader:
                net, report = train_feature_net(reader, estimate_scene(reader, 3, params), params)
        finally:
            torch.set_num_threads(threads)
        return net.state_dict(), report

    first, report = train(0)
    again, report_again = train(0)
    other, _ = train(1)
    assert report.steps == report_again.steps == MIN_STEPS and report.last_loss == report_again.last_loss
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
