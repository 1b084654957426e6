"""Bidirectional-consistency training of the feature net on the video itself (no labels, no downloads).

A training sample is an animal at frame t and the same window in frames t+a and t+b. Through the
differentiable correlation filter: learn a filter on t, track to t+a, learn a filter from that response, track to
t+b, learn again, track back to t. When the features are right, the backward response peaks where the animal
started (the cycle-consistency loss). Where the scene model sees the animal alone in its blob at t+a or t+b,
the forward responses must also peak there: a self-made pseudo-label that stops the net from settling on
features that are consistent but blind (a constant map is trivially cycle-consistent). The worst fraction of
each batch is dropped, as occlusions make some cycles unanswerable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from udmt.kernels import crop_resize
from udmt.model import FeatureNet, dcf_detect, dcf_learn, gaussian_label, hann_window, network_input, shift_spectrum
from udmt.optim import Adam, seeded
from udmt.params import Params
from udmt.progress import SILENT, Progress
from udmt.scene import Observation, Scene, observe_working, read_frames, working_luma
from udmt.video import VideoReader


@dataclass
class Clip:
    """Frames t, t+a, t+b at working resolution with the animals found at t and their pseudo-positions later."""

    frames: list[np.ndarray]  # uint8 working-resolution luma, one per cycle frame
    starts: np.ndarray  # (k, 2) animal positions at t (working px)
    later: np.ndarray  # (k, len(frames)-1, 2) pseudo-positions at t+a, t+b; NaN where unknown


@dataclass(frozen=True)
class TrainReport:
    steps: int
    seconds: float
    first_loss: float
    last_loss: float


def _pseudo_position(obs: Observation, start: np.ndarray, scene: Scene, reach: float) -> np.ndarray:
    """The centroid of the single-animal blob nearest to ``start`` if it is unambiguous, else NaN."""
    blobs = obs.blobs
    if len(blobs) == 0:
        return np.full(2, np.nan)
    d = np.linalg.norm(blobs.centroids - start, axis=1)
    order = np.argsort(d)
    nearest = order[0]
    single = bool(scene.is_single(blobs.areas[nearest]))
    clear = len(order) == 1 or d[order[1]] > d[nearest] + 0.5 * reach
    return blobs.centroids[nearest] if (single and clear and d[nearest] <= reach) else np.full(2, np.nan)


CLIPS = 48  # training clips sampled through the video


def clip_starts(n_frames: int, params: Params) -> np.ndarray:
    """First frames of the CLIPS training clips, spread through the whole video (seeded jitter; fewer where they
    coincide, none where the video is shorter than one cycle)."""
    span = params.train_cycle[-1]
    if n_frames <= span:
        return np.zeros(0, int)
    rng = np.random.default_rng(params.seed)
    base = np.linspace(0, n_frames - span - 1, CLIPS)
    jitter = rng.uniform(-0.5, 0.5, CLIPS) * (n_frames - span) / CLIPS
    return np.unique(np.clip(np.rint(base + jitter), 0, n_frames - span - 1).astype(int))


def training_frames(n_frames: int, params: Params) -> np.ndarray:
    """Every frame the training clips read: each clip's t, t+a and t+b."""
    return _cycle_frames(clip_starts(n_frames, params), params)


def _cycle_frames(starts: np.ndarray, params: Params) -> np.ndarray:
    return (starts[:, None] + np.array((0, *params.train_cycle))[None, :]).ravel()


def collect_clips(reader: VideoReader, scene: Scene, params: Params, progress: Progress = SILENT) -> list[Clip]:
    """The clips starting at :func:`clip_starts`, with the animals found at t and their pseudo-positions later."""
    offsets = (0, *params.train_cycle)
    starts = clip_starts(reader.n_frames, params)
    if not len(starts):
        return []
    body = scene.body_length / scene.factor
    indices = _cycle_frames(starts, params)
    decoded = read_frames(reader, indices, progress, transform=lambda frame: working_luma(frame, scene))
    clips = []
    for t in starts:
        observations = {o: observe_working(int(t + o), decoded[int(t + o)], scene, params) for o in offsets if int(t + o) in decoded}
        if len(observations) < len(offsets) or len(observations[0].blobs) == 0:
            continue
        anchors = observations[0].blobs.centroids
        reach = [params.max_speed * body * o for o in offsets[1:]]
        later = np.array([[_pseudo_position(observations[o], p, scene, r) for o, r in zip(offsets[1:], reach)] for p in anchors])
        clips.append(Clip([observations[o].luma for o in offsets], anchors, later))
    return clips


class _Batcher:
    """Draws training windows from the clips: same window centre in every cycle frame, jittered around the animal."""

    def __init__(self, clips: list[Clip], scene: Scene, params: Params, window_side: float, map_size: int) -> None:
        self.clips, self.scene, self.params = clips, scene, params
        self.window_side, self.map_size = window_side, map_size
        self.cell = window_side / map_size
        self.background = np.clip(np.rint(scene.background), 0, 255).astype(np.uint8)
        self.rng = np.random.default_rng(params.seed + 1)

    def draw(self, size: int) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Inputs per cycle frame (B, 2, P, P), start offsets (B, 2) and later offsets (B, L, 2) in map px."""
        p = self.params
        lumas: list[list[np.ndarray]] = [[] for _ in self.clips[0].frames]
        floors, starts, later = [], [], []
        for _ in range(size):
            clip = self.clips[self.rng.integers(len(self.clips))]
            k = self.rng.integers(len(clip.starts))
            centre = clip.starts[k] + self.rng.uniform(-0.2, 0.2, 2) * self.window_side
            centres = centre[None].astype(np.float32)
            sides = np.array([self.window_side], np.float32)
            floors.append(crop_resize(self.background, centres, sides, p.patch))
            for j, frame in enumerate(clip.frames):
                lumas[j].append(crop_resize(frame, centres, sides, p.patch))
            starts.append((clip.starts[k] - centre) / self.cell)
            later.append((clip.later[k] - centre) / self.cell)
        floor = torch.from_numpy(np.concatenate(floors))
        inputs = [network_input(torch.from_numpy(np.concatenate(x)), floor, self.scene.polarity, self.scene.threshold)
                  for x in lumas]  # fmt: skip
        return inputs, torch.tensor(np.array(starts), dtype=torch.float32), torch.tensor(np.array(later), dtype=torch.float32)


def consistency_losses(
    net: FeatureNet, inputs: list[torch.Tensor], start: torch.Tensor, later: torch.Tensor, label_f: torch.Tensor, lam: float
) -> torch.Tensor:
    """Per-sample loss: backward-cycle error at t plus pseudo-label errors at the later frames."""
    map_size = label_f.shape[-2]
    window = hann_window(map_size)
    feats = [net(x) * window for x in inputs]
    target0_f = shift_spectrum(label_f, start, map_size)
    target0 = torch.fft.irfft2(target0_f, s=(map_size, map_size))
    num, den = dcf_learn(feats[0], target0_f)
    loss = torch.zeros(len(start))
    for j, f in enumerate(feats[1:]):
        response = dcf_detect(num, den, f, lam)
        known = torch.isfinite(later[:, j]).all(dim=1)
        if known.any():
            where = torch.where(known[:, None], later[:, j], torch.zeros_like(later[:, j]))
            target = torch.fft.irfft2(shift_spectrum(label_f, where, map_size), s=(map_size, map_size))
            loss = loss + known.float() * (response - target).pow(2).mean(dim=(1, 2))
        num, den = dcf_learn(f, torch.fft.rfft2(response))  # the forward response is the next label
    back = dcf_detect(num, den, feats[0], lam)
    return loss + (back - target0).pow(2).mean(dim=(1, 2))


MIN_STEPS = 30
FRAMES_PER_STEP = 8


def step_budget(n_frames: int, params: Params) -> int:
    """Optimiser steps for a video of ``n_frames``: one per FRAMES_PER_STEP frames, at least MIN_STEPS, at most
    ``params.train_steps``. A short clip offers few distinct training windows, and more steps on them only
    overfit; it should not cost minutes of training before seconds of tracking. The budget is small because the
    ablation without training (benchmarks/RESULTS.md) scored the same on every scene measured; it is not smaller
    because nets stopped at 60–100 steps lost identities on one video of 14 flies that 112 steps kept (IDF1
    0.95–0.97 against 0.999, session 23)."""
    return min(params.train_steps, max(MIN_STEPS, n_frames // FRAMES_PER_STEP))


def train_feature_net(
    reader: VideoReader, scene: Scene, params: Params, progress: Progress = SILENT
) -> tuple[FeatureNet, TrainReport]:
    """Train from scratch within the step and wall-clock budgets; deterministic given ``params.seed``."""
    net = seeded(FeatureNet, params.seed)
    clips = collect_clips(reader, scene, params, progress=progress)
    if not clips or params.train_steps == 0:
        net.eval()
        return net, TrainReport(0, 0.0, float("nan"), float("nan"))
    map_size = params.patch // 2
    body = scene.body_length / scene.factor
    batcher = _Batcher(clips, scene, params, params.search_scale * body, map_size)
    label_f = torch.fft.rfft2(gaussian_label(map_size, params.label_sigma * map_size))
    optimiser = Adam(net.parameters(), lr=3e-3)
    keep = max(1, int(round(params.train_batch * (1 - params.train_drop))))
    steps = step_budget(reader.n_frames, params)
    began = time.monotonic()
    first = last = float("nan")
    step = 0
    progress.start("training", steps)
    net.train()
    while step < steps and time.monotonic() - began < params.train_seconds:
        inputs, start, later = batcher.draw(params.train_batch)
        losses = consistency_losses(net, inputs, start, later, label_f, params.filter_lambda)
        loss = torch.sort(losses).values[:keep].mean()  # drop the worst samples (occlusions)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        last = float(loss.detach())
        first = last if step == 0 else first
        step += 1
        progress.advance()
    progress.stop()
    net.eval()
    return net, TrainReport(step, time.monotonic() - began, first, last)
