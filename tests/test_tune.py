"""Automatic tuning: the consistency score sees a tracker that loses its animals, the search keeps only real gains."""

from __future__ import annotations

import pytest
import torch

from udmt import tune
from udmt.model import FeatureNet
from udmt.params import Params
from udmt.progress import SILENT
from udmt.scene import estimate_scene
from udmt.video import VideoReader

from real_data import THREE_FLIES, needs_real


def test_coordinate_descent_takes_each_gain_above_the_threshold_and_nothing_else() -> None:
    """A score with its minimum at search_scale 2.4 and a gain below MIN_GAIN at filter_rate 0.16."""

    def score(p: Params) -> float:
        return abs(p.search_scale - 2.4) + (0.5 * tune.MIN_GAIN if p.filter_rate == 0.08 else 0.0) + 0.1

    best, best_score, given_score, trials = tune.coordinate_descent(Params(), score, SILENT)
    assert best.search_scale == pytest.approx(2.4) and best.filter_rate == 0.08  # the small gain is not taken
    assert given_score == pytest.approx(0.7 + 0.5 * tune.MIN_GAIN) and best_score == pytest.approx(0.1 + 0.5 * tune.MIN_GAIN)
    assert [t["parameter"] for t in trials] == [name for name, factors in tune.SEARCH.items() for _ in factors]
    # Coordinates after search_scale are tried around the improved set: their trials keep search_scale at 2.4.
    assert trials[2]["score"] == pytest.approx(best_score, abs=1e-4)

    flat, flat_score, _, none = tune.coordinate_descent(Params(), lambda p: 0.5 * tune.MIN_GAIN, SILENT)
    assert flat == Params() and none == []  # consistent already: nothing can gain enough, nothing is searched


@needs_real
def test_tuning_makes_a_tracker_that_swaps_flies_consistent_and_keeps_consistent_values() -> None:
    torch.manual_seed(0)
    net = FeatureNet().eval()  # consistency needs a tracker, not a trained one
    given = Params()
    with VideoReader(THREE_FLIES) as reader:
        scene = estimate_scene(reader, 3, given)
        windows = tune.validation_windows(reader, scene, given, reader.n_frames)
        assert len(windows) == 3 and all(len(w.observations) > 16 for w in windows)  # 128 frames: 3 of 4 windows of 32
        consistent = tune.consistency_score(windows, scene, net, given)
        wide = given.replace(search_scale=6.0)  # windows of 6 body lengths: neighbours in view, flies exchanged
        assert tune.consistency_score(windows, scene, net, wide) > consistent + 4 * tune.MIN_GAIN

        kept, report = tune.tune(reader, scene, net, given, reader.n_frames)
        assert kept == given and report.chosen == {} and report.trials == []

        tuned, report = tune.tune(reader, scene, net, wide, reader.n_frames)
    assert report.chosen and all(getattr(tuned, k) == v != getattr(wide, k) for k, v in report.chosen.items())
    assert report.given_score > 4 * tune.MIN_GAIN and report.score < 2 * consistent + tune.MIN_GAIN
    assert report.to_info()["windows"] == 3 and report.frames == 2 * sum(len(w.observations) for w in windows)
