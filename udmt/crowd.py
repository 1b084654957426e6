"""Who is who where the animals are never all apart: identities learned from individual fragments.

In a crowded arena no frame shows every animal alone, so there is no global fragment to name the animals from
(``udmt.appearance``). What remains is what idtracker.ai v6 learns from: *individual fragments* — stretches where
one animal is alone in its blob and linked frame to frame without ambiguity — and the fact that fragments seen
at the same time are different animals. The embedding net is trained contrastively on the fragments alive at
sampled frames; the animals are then named by clustering the fragments' embeddings into N groups, fragments seen
together never in one group (constrained k-means, each fragment to the nearest centroid its contemporaries left
free). The result is an :class:`udmt.appearance.IdentityNet` like the one from global fragments, judged by the
same held-out check before it is used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from udmt.appearance import (MIN_ACCURACY, MIN_FRAGMENT, MIN_NAMED, TRAIN_TEMPERATURE, WINDOW_FRAMES, IdentityNet,
                             IdentityReport, aligned_crops, augment, body_axes, calibrate, held_out_split,
                             window_starts)
from udmt.params import Params
from udmt.progress import SILENT, Progress
from udmt.scene import Blobs, Scene, observe
from udmt.video import VideoReader

LINK_RATIO = 0.25  # a link moves less than this fraction of the distance to any other blob …
AREA_CHANGE = 0.25  # … and changes the blob's area by less than this fraction
KMEANS_ROUNDS = 10
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
    for start in starts:
        running: dict[int, tuple[int, list[tuple[torch.Tensor, np.ndarray]]]] = {}  # last blob → (first, run)
        previous: Blobs | None = None
        for index, frame in reader.frames(start, min(start + WINDOW_FRAMES, reader.n_frames)):
            obs = observe(index, frame, scene, params)
            blobs = obs.blobs
            single = np.flatnonzero(scene.is_single(blobs.areas))
            centres = scene.to_original(blobs.centroids[single])
            crops = aligned_crops(frame, scene, centres, body_axes(blobs, obs.diff, single))
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
        progress.advance()
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


def _contemporaries(fragments: list[IndividualFragment]) -> np.ndarray:
    """(F, F) whether two fragments share a frame (then they are different animals)."""
    first = np.array([f.first for f in fragments])
    stop = first + np.array([len(f.crops) for f in fragments])
    together = (first[:, None] < stop[None]) & (first[None] < stop[:, None])
    np.fill_diagonal(together, False)
    return together


def contrastive_fit(net: IdentityNet, fragments: list[IndividualFragment], groups: list[list[int]], steps: int,
                    seed: int, per_step: int = 4) -> None:  # fmt: skip
    """InfoNCE over ``groups`` of fragments alive together (:func:`_groups`): two crops of one fragment are one
    animal, crops of its contemporaries are others."""
    gen = torch.Generator().manual_seed(seed)
    train = [held_out_split(f.crops)[0] for f in fragments]
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
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


def _groups(fragments: list[IndividualFragment], together: np.ndarray) -> list[list[int]]:
    """Sets of fragments alive together (at each fragment's first frame), of two or more; ``together`` is
    :func:`_contemporaries`."""
    groups = []
    for i, f in enumerate(fragments):
        alive = [i, *(j for j in np.flatnonzero(together[i]) if fragments[j].first <= f.first)]
        if len(alive) >= 2:
            groups.append(sorted(alive))
    return groups


def name_by_clustering(net: IdentityNet, fragments: list[IndividualFragment], together: np.ndarray,
                       n: int) -> tuple[np.ndarray, float]:  # fmt: skip
    """Identity of each fragment by constrained k-means of their embeddings (``together``: :func:`_contemporaries`,
    never in one cluster); prototypes and temperature set on ``net``. Returns the identities and the held-out
    per-crop accuracy against them."""
    vectors = torch.stack([nn.functional.normalize(net.embed_both(held_out_split(f.crops)[0]).mean(0), dim=0)
                           for f in fragments]).numpy()  # fmt: skip
    weight = np.array([len(f.crops) for f in fragments], np.float64)
    centres = _initial_centres(vectors, together, weight, n)
    label = np.full(len(fragments), -1)
    for _ in range(KMEANS_ROUNDS):
        label = _constrained_assign(vectors @ centres.T, together, weight)
        for k in range(n):
            mine = label == k
            if mine.any():
                c = (vectors[mine] * weight[mine, None]).sum(0)
                centres[k] = c / max(np.linalg.norm(c), 1e-9)
    net.prototypes = torch.from_numpy(centres.astype(np.float32))
    held = [(held_out_split(f.crops)[1], label[i]) for i, f in enumerate(fragments) if label[i] >= 0]
    accuracy = calibrate(net, torch.cat([h for h, _ in held]),
                         torch.cat([torch.full((len(h),), k) for h, k in held]))
    return label, accuracy


def _initial_centres(vectors: np.ndarray, together: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """The largest set of contemporaries (ties: most frames) seeds its fragments as centres; farthest points the
    rest."""
    sets = [np.flatnonzero(together[i] | (np.arange(len(vectors)) == i)) for i in range(len(vectors))]
    sets = [s[np.argsort(-weight[s], kind="stable")][:n] for s in sets]
    seed = max(sets, key=lambda s: (len(s), weight[s].sum()))
    centres = list(vectors[seed])
    while len(centres) < n:
        nearest = (vectors @ np.array(centres).T).max(axis=1)
        centres.append(vectors[int(np.argmin(nearest))])
    return np.array(centres, np.float64)


def _constrained_assign(similarity: np.ndarray, together: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Longest fragments first, each to its most similar centre not taken by a contemporary already placed
    (-1 when all are)."""
    label = np.full(len(similarity), -1)
    for i in np.argsort(-weight, kind="stable"):
        taken = set(label[together[i]].tolist())
        for k in np.argsort(-similarity[i], kind="stable"):
            if k not in taken:
                label[i] = k
                break
    return label


def train_identity_crowded(reader: VideoReader, scene: Scene, params: Params,
                           progress: Progress = SILENT) -> tuple[IdentityNet | None, IdentityReport]:  # fmt: skip
    """Embedding net and prototypes from individual fragments, or None when too few fragments are found or the
    clusters do not predict held-out crops reliably (then identities rest on motion alone)."""
    began = time.monotonic()
    fragments = find_individual_fragments(reader, scene, params, params.identity_windows, progress)
    together = _contemporaries(fragments)
    groups = _groups(fragments, together)
    if len(groups) < MIN_GROUPS_PER_ANIMAL * scene.n_animals:
        return None, IdentityReport(len(fragments), 0, 0, time.monotonic() - began, float("nan"),
                                    source="individual fragments")
    torch.manual_seed(params.seed)
    net = IdentityNet(scene.n_animals)
    steps = STEPS_FACTOR * params.identity_steps
    progress.start("learning identities from individual fragments", 1)
    contrastive_fit(net, fragments, groups, steps, params.seed)
    label, accuracy = name_by_clustering(net, fragments, together, scene.n_animals)
    progress.advance()
    progress.stop()
    named = int((label >= 0).sum())
    used = accuracy >= MIN_ACCURACY and named >= MIN_NAMED
    report = IdentityReport(len(fragments), named, steps, time.monotonic() - began, accuracy, used,
                            "individual fragments")
    return (net if used else None), report
