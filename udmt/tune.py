"""Automatic parameter tuning by the tracker's own forward–backward consistency (no ground truth).

The criterion UDMT trains on, used to choose the tracker's knobs. In a few validation windows of the video, the
tracker starts at a clean frame, runs forward to the window's end and back again; where it follows every animal,
the backward trajectories retrace the forward ones. A parameter set is scored by how far apart the two are, frame
by frame (body lengths, each capped at one: an animal lost is lost, however far), plus the fraction of
animal-frames lost. Windows are the stretches where animals touch most (where a tracker can go wrong), chosen
from candidates spread through the video. The search is coordinate descent over a few values around the given
ones, in a fixed order; a value replaces the current one only when it lowers the score by more than
:data:`MIN_GAIN`, so where the tracker is already consistent the given values stand (and nothing is searched).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from udmt.initialise import cleanliness, find_start
from udmt.model import FeatureNet
from udmt.params import Params
from udmt.progress import SILENT, Progress
from udmt.scene import Observation, Scene, observe
from udmt.store import FLAG_LOST
from udmt.track import FrameResult, Tracker, run_tracker
from udmt.video import VideoReader

# Tuned parameter → factors tried around its given value (the value itself is the starting point).
SEARCH: dict[str, tuple[float, ...]] = {
    "search_scale": (0.8, 1.33),  # window side: room for fast moves against room for neighbours
    "max_speed": (0.7, 1.5),  # the jump gate of the blob assignment
    "filter_rate": (0.5, 2.0),  # η: how fast the appearance model follows the animal
    "label_sigma": (0.7, 1.4),  # sharpness of the filter's target
}  # not λ: 10× either way left every score unchanged on 5 scenes (the learned features are far above it)
MIN_GAIN = 0.02  # score units (body lengths apart, per animal-frame): smaller gains keep the given value
LOST_WEIGHT = 0.5  # a lost animal-frame weighs as half a body length of forward–backward error


@dataclass(frozen=True)
class Window:
    """Observations of one validation window, from the clean frame where the tracker starts."""

    observations: list[Observation]
    start: np.ndarray  # (N, 2) working px at observations[0]


@dataclass
class TuningReport:
    chosen: dict[str, float]  # parameters whose value tuning changed, with the new value
    score: float  # of the chosen set
    given_score: float  # of the parameters as given
    trials: list[dict[str, Any]]  # every evaluated change: parameter, value, score
    windows: int
    frames: int  # tracked frames per evaluation (forward and back)
    seconds: float

    def to_info(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "score": round(self.score, 4), "given_score": round(self.given_score, 4),
                "trials": self.trials, "windows": self.windows, "frames": self.frames,
                "seconds": round(self.seconds, 2)}


def validation_windows(reader: VideoReader, scene: Scene, params: Params, n_frames: int) -> list[Window]:
    """The ``params.tune_windows`` windows of ``params.tune_frames`` frames in which animals touch most, out of
    twice as many centred on equal stretches of the video; each starts at the cleanest frame of its first half."""
    length = min(params.tune_frames, n_frames)
    count = max(1, min(2 * params.tune_windows, n_frames // max(length, 1)))
    stretch = n_frames / count
    firsts = [int(np.clip(round((k + 0.5) * stretch - length / 2), 0, n_frames - length)) for k in range(count)]
    window_of = {i: first for first in firsts for i in range(first, first + length)}
    observed: dict[int, list[Observation]] = {first: [] for first in firsts}
    for i, frame in reader.frames_at(window_of.keys()):
        observed[window_of[i]].append(observe(i, frame, scene, params))
    candidates, touching = [], []
    for observations in observed.values():
        if len(observations) < 2:  # a truncated video ends here
            continue
        clean, start = find_start(observations[: max(1, len(observations) // 2)], scene)
        at = next(i for i, obs in enumerate(observations) if obs is clean)
        candidates.append(Window(observations[at:], start))
        touching.append(sum(cleanliness(obs, scene) < 1.0 for obs in observations[at:]))
    keep = sorted(np.argsort(-np.array(touching), kind="stable")[: params.tune_windows])
    return [candidates[k] for k in keep]


def consistency_score(windows: list[Window], scene: Scene, net: FeatureNet, params: Params) -> float:
    """Mean over windows, frames and animals of min(distance between the forward and the backward track in body
    lengths, 1), plus :data:`LOST_WEIGHT` × the fraction of animal-frames flagged lost out or back (0 without
    windows: nothing speaks against the given values)."""
    body = scene.body_length / scene.factor
    gaps, lost, cells = [np.zeros(0)], 0, 0
    for window in windows:
        ahead = _track(Tracker(scene, net, params, window.start.copy()), window.observations)
        back = _track(Tracker(scene, net, params, ahead[-1].position.copy()), reversed(window.observations))
        forward = np.array([r.position for r in ahead])
        backward = np.array([r.position for r in reversed(back)])
        gaps.append(np.minimum(np.linalg.norm(forward - backward, axis=2) / body, 1.0).ravel())
        flags = np.array([r.flags for r in ahead + back])
        lost += int(np.count_nonzero(flags & FLAG_LOST))
        cells += flags.size
    every = np.concatenate(gaps)
    return (float(every.mean()) if len(every) else 0.0) + LOST_WEIGHT * lost / max(cells, 1)


def _track(tracker: Tracker, observations: Iterable[Observation]) -> list[FrameResult]:
    return [result for _, result in run_tracker(tracker, observations)]


def coordinate_descent(given: Params, score: Callable[[Params], float],
                       progress: Progress = SILENT) -> tuple[Params, float, float, list[dict[str, Any]]]:  # fmt: skip
    """Each parameter of :data:`SEARCH` in turn: try its factors around the current value, keep the best if it
    gains more than :data:`MIN_GAIN`. Returns the best set, its score, the given set's score and every trial."""
    progress.start("tuning", 1 + sum(len(f) for f in SEARCH.values()))
    best = given
    given_score = best_score = score(given)
    progress.advance()
    trials: list[dict[str, Any]] = []
    for name, factors in SEARCH.items() if given_score > MIN_GAIN else ():  # else no value can gain enough
        centre = getattr(best, name)
        for factor in factors:
            candidate = best.replace(**{name: round(centre * factor, 6)})
            value = score(candidate)
            trials.append({"parameter": name, "value": getattr(candidate, name), "score": round(value, 4)})
            if value < best_score - MIN_GAIN:
                best, best_score = candidate, value
            progress.advance()
    progress.stop()
    return best, best_score, given_score, trials


def tune(reader: VideoReader, scene: Scene, net: FeatureNet, params: Params, n_frames: int,
         progress: Progress = SILENT) -> tuple[Params, TuningReport]:  # fmt: skip
    """The parameters with the most consistent tracking found by :func:`coordinate_descent`, and what was tried."""
    began = time.monotonic()
    windows = validation_windows(reader, scene, params, n_frames)
    best, score, given_score, trials = coordinate_descent(
        params, lambda candidate: consistency_score(windows, scene, net, candidate), progress)
    chosen = {k: v for k, v in best.as_dict().items() if v != params.as_dict()[k]}
    frames = 2 * sum(len(w.observations) for w in windows)
    return best, TuningReport(chosen, score, given_score, trials, len(windows), frames, time.monotonic() - began)
