"""Examples of individuals where the animals are never all apart: individual fragments.

In a crowded arena no frame shows every animal alone, so there is no global fragment to learn from
(``udmt.appearance``). What remains is what idtracker.ai v6 learns from: *individual fragments* — stretches where
one animal is alone in its blob and linked frame to frame without ambiguity — and the fact that fragments seen
at the same time are different animals. The embedding net is trained contrastively on the fragments alive at
sampled frames; ``udmt.individuals`` names the animals from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from udmt.appearance import (MIN_FRAGMENT, TRAIN_TEMPERATURE, WINDOW_FRAMES, IdentityNet, animal_crops, augment,
                             held_out_split, window_frames, window_starts)
from udmt.optim import Adam
from udmt.params import Params
from udmt.progress import SILENT, Progress
from udmt.scene import Blobs, Scene, observe
from udmt.video import VideoReader

LINK_RATIO = 0.25  # a link moves less than this fraction of the distance to any other blob …
AREA_CHANGE = 0.25  # … and changes the blob's area by less than this fraction
# Optimiser steps per ``identity_steps``: fewer animals per step than a global fragment offers, and they need more
# steps. Measured on the 10-mouse crowded scene (held-out accuracy; fragment-frames clustered right against the
# truth): 1× 0.645 / 0.74, 3× 0.887 / 0.90; 1× with three times the groups per step 0.742 / 0.82.
STEPS_FACTOR = 3
MIN_GROUPS_PER_ANIMAL = 5  # fewer sets of contemporaries (short clips: 6 for 3 flies in 128 frames) teach too little


@dataclass
class IndividualFragment:
    first: int  # frame index
    crops: torch.Tensor  # (T, CROP, CROP) one animal alone
    positions: np.ndarray  # (T, 2) original px


def find_individual_fragments(reader: VideoReader, scene: Scene, params: Params, windows: int,
                              progress: Progress = SILENT) -> list[IndividualFragment]:  # fmt: skip
    """Individual fragments of at least MIN_FRAGMENT frames in ``windows`` stretches spread through the video."""
    fragments: list[IndividualFragment] = []
    starts = window_starts(reader.n_frames, windows)
    progress.start("finding individual fragments", len(starts))
    running: dict[int, tuple[int, list[tuple[torch.Tensor, np.ndarray]]]] = {}  # last blob → (first, run)
    previous: Blobs | None = None
    for first_of_window, index, frame in window_frames(reader, starts):
        if first_of_window:
            for first, run in running.values():
                _keep(first, run, fragments)
            running, previous = {}, None
            progress.advance()
        obs = observe(index, frame, scene, params)
        blobs = obs.blobs
        single = np.flatnonzero(scene.is_single(blobs.areas))
        centres = scene.to_original(blobs.centroids[single])
        crops = animal_crops(frame, scene, obs, single)
        links = _links(previous, blobs, single) if previous is not None else {}
        now: dict[int, tuple[int, list[tuple[torch.Tensor, np.ndarray]]]] = {}
        for k, b in enumerate(single):
            first, run = running.pop(links[b], (index, [])) if b in links else (index, [])
            run.append((crops[k], centres[k]))
            now[int(b)] = (first, run)
        for first, run in running.values():
            _keep(first, run, fragments)
        running, previous = now, blobs
    for first, run in running.values():
        _keep(first, run, fragments)
    progress.stop()
    return fragments


def _links(previous: Blobs, blobs: Blobs, single: np.ndarray) -> dict[int, int]:
    """Current single blob → previous blob it surely continues: the nearest, much nearer than any other blob of
    either frame, and of nearly the same area."""
    if len(previous) == 0 or len(blobs) == 0:
        return {}
    moved = np.linalg.norm(blobs.centroids[:, None] - previous.centroids[None], axis=2)
    gaps = np.linalg.norm(blobs.centroids[:, None] - blobs.centroids[None], axis=2)
    np.fill_diagonal(gaps, np.inf)
    links = {}
    for b in single:
        p = int(np.argmin(moved[b]))
        others = min(np.delete(moved[b], p).min(initial=np.inf), np.delete(moved[:, p], b).min(initial=np.inf),
                     gaps[b].min(initial=np.inf))
        similar = abs(blobs.areas[b] - previous.areas[p]) < AREA_CHANGE * previous.areas[p]
        if moved[b, p] < LINK_RATIO * others and similar:
            links[int(b)] = p
    return links


def _keep(first: int, run: list[tuple[torch.Tensor, np.ndarray]], fragments: list[IndividualFragment]) -> None:
    if len(run) >= MIN_FRAGMENT:
        fragments.append(IndividualFragment(first, torch.stack([c for c, _ in run]), np.array([p for _, p in run])))


def fit_individual_fragments(net: IdentityNet, fragments: list[IndividualFragment], groups: list[list[int]],
                             steps: int, seed: int, per_step: int = 4) -> None:  # fmt: skip
    """InfoNCE over ``groups`` of fragments alive together (:func:`groups_alive_together`): two crops of one
    fragment are one animal, crops of its contemporaries are others."""
    gen = torch.Generator().manual_seed(seed)
    train = [held_out_split(f.crops)[0] for f in fragments]
    optimiser = Adam(net.parameters(), lr=1e-3)
    net.train()
    for _ in range(steps):
        loss = torch.zeros(())
        for g in torch.randint(len(groups), (per_step,), generator=gen).tolist():
            members = groups[g]
            pairs = [train[m][torch.randint(len(train[m]), (2,), generator=gen)] for m in members]
            both = net.embed(augment(torch.cat(pairs), gen)).view(len(members), 2, -1)
            logits = both[:, 0] @ both[:, 1].T / TRAIN_TEMPERATURE
            target = torch.arange(len(members))
            loss = loss + nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)
        optimiser.zero_grad()
        (loss / per_step).backward()
        optimiser.step()
    net.eval()


def groups_alive_together(fragments: list[IndividualFragment], together: np.ndarray) -> list[list[int]]:
    """Sets of fragments alive together (at each fragment's first frame), of two or more; ``together`` (F, F) says
    which fragments share a frame."""
    groups = []
    for i, f in enumerate(fragments):
        alive = [i, *(j for j in np.flatnonzero(together[i]) if fragments[j].first <= f.first)]
        if len(alive) >= 2:
            groups.append(sorted(alive))
    return groups
