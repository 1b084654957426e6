"""The forward–backward check: small where the result is right, large where it jumped to another animal."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from udmt import quality
from udmt.model import FeatureNet
from udmt.params import Params
from udmt.scene import estimate_scene
from udmt.track import track_chunk
from udmt.video import VideoReader

from real_data import THREE_FLIES, needs_real


@needs_real
def test_a_right_result_comes_home_and_a_swapped_one_does_not() -> None:
    params = Params()
    torch.manual_seed(0)
    net = FeatureNet().eval()  # the check needs a tracker, not a trained one (the ablation: same scores)
    with VideoReader(THREE_FLIES) as reader:
        scene = estimate_scene(reader, 3, params)
        tracks = track_chunk(reader, scene, net, params, 0, reader.n_frames)
        right = quality.forward_backward_errors(reader, scene, net, params, tracks, windows=4)
        # A result that jumps: from frame 100 on, flies 0 and 1 exchange columns (the last window spans 96–127).
        swapped = tracks.position.copy()
        swapped[100:, [0, 1]] = swapped[100:, [1, 0]]
        wrong = quality.forward_backward_errors(reader, scene, net, params, dataclasses.replace(tracks, position=swapped),
                                                windows=4)
        default = quality.forward_backward_errors(reader, scene, net, params, tracks)
    assert right.shape == wrong.shape == (4, 3)
    assert default.shape == (1, 3)  # 128 frames: by default one window of 32 (a quarter of the chunk)
    assert np.nanmax(right) < 0.1 * scene.body_length  # every fly comes home
    assert (wrong[-1, :2] > 0.5 * scene.body_length).all() and wrong[-1, 2] < 0.1 * scene.body_length
    np.testing.assert_array_equal(wrong[:-1], right[:-1])  # windows before the jump are unchanged

    report = quality.summary(wrong, scene.body_length)
    assert report["checks"] == 12 and report["returned"] == pytest.approx(10 / 12, abs=1e-4)
    assert quality.summary(np.zeros((0, 3), np.float32), scene.body_length)["checks"] == 0
