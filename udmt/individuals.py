"""The identity stage: who is who, learned from the video's own unambiguous stretches, with no labels.

Examples come from *global fragments* (``udmt.appearance``: every animal alone at once), else from *individual
fragments* (``udmt.crowd``: animals never all apart, or too alike for the global fragments to name them). Either
way the embedding net learns contrastively that a fragment's crops are one animal and fragments seen together are
different animals; the animals are then named by clustering the fragments' embeddings into N groups, fragments
seen together never in one group (constrained k-means), and the net is used only when these names predict the
held-out frames of the fragments reliably (less reliably where the animals are never all apart: motion alone fares
worse there). Clustering names every fragment at once; matching each fragment to the
longest one instead fails where two of many animals are alike (measured: 1 of 36 fragments named on 14 flies).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from udmt.appearance import IdentityNet, find_global_fragments, fit_global_fragments, held_out_split
from udmt.crowd import (MIN_GROUPS_PER_ANIMAL, STEPS_FACTOR, find_individual_fragments, fit_individual_fragments,
                        groups_alive_together)
from udmt.optim import seeded
from udmt.params import Params
from udmt.progress import SILENT, Progress
from udmt.scene import Scene
from udmt.video import VideoReader

# Held-out per-crop accuracy below which the net is not used (then individual fragments are tried) … Measured on
# 14 flies (900 frames): the global fragments' net at 0.858 gave IDF1 0.940, the individual fragments' at 0.955
# gave 1.000; every other net used on the benchmark scenes and clips scores 0.965 or more (session 16).
MIN_ACCURACY = 0.9
# … except where the animals are never all apart (fewer than MIN_NAMED global fragments): there motion alone keeps
# few identities (10 crowded mice, unseen seed 6: IDF1 0.537), and a net down to this accuracy does better (0.803:
# 0.800); elsewhere motion does better than such nets (fish 0.984 and 0.943 against nets at 0.826 and 0.802: 0.928
# and 0.891; worms 1.000 against 0.748: 0.935)
CROWDED_MIN_ACCURACY = 0.75
MIN_NAMED = 3  # … or when fewer fragments were named (measured: 2 short fragments misled it on a real clip)
KMEANS_ROUNDS = 10


@dataclass(frozen=True)
class IdentityReport:
    fragments: int  # fragments found
    named: int  # fragments given an identity (global fragments: all their animals)
    steps: int
    seconds: float
    validation_accuracy: float  # per crop, on the held-out last fifth of each named fragment (NaN: none)
    used: bool = False  # accurate enough to decide identities
    source: str = "global fragments"  # or "individual fragments"
    # per identity: the share of its held-out crops the net names it (None: none held out) …
    held_out_recall: tuple[float | None, ...] = ()
    # … and, for each identity below MIN_ACCURACY, the identity its crops are most often taken for: animals the net
    # cannot tell apart, whose identities rest on motion where they touch
    look_alikes: tuple[tuple[int, int], ...] = ()
    # two identities the net is used without telling apart (:func:`_merged_look_alikes`), and its held-out
    # accuracy with them merged
    merged: tuple[int, ...] = ()
    merged_accuracy: float | None = None


@dataclass(frozen=True)
class HeldOutCheck:
    """How well the prototypes name held-out crops of known identity: ``confusion[i, j]`` crops of identity i were
    named j."""

    confusion: np.ndarray  # (K, K)

    @property
    def accuracy(self) -> float:
        return _share(np.trace(self.confusion), self.confusion.sum())

    @property
    def recall(self) -> np.ndarray:
        """(K,) share of each identity's crops named it (NaN: none held out)."""
        crops = self.confusion.sum(axis=1)
        return np.where(crops > 0, np.diag(self.confusion) / np.maximum(crops, 1), np.nan)

    @property
    def taken_for(self) -> np.ndarray:
        """(K,) the other identity each one's crops are most often named (-1: never another)."""
        others = self.confusion.copy()
        np.fill_diagonal(others, 0)
        return np.where(others.max(axis=1) > 0, others.argmax(axis=1), -1)

    def most_confused_pair(self) -> tuple[int, int]:
        """The two identities whose crops the net names as each other most often, as a share of their crops."""
        crops = self.confusion.sum(axis=1).astype(np.float64)
        share = (self.confusion + self.confusion.T) / np.maximum(crops[:, None] + crops[None], 1)
        np.fill_diagonal(share, -1.0)
        a, b = np.unravel_index(int(np.argmax(share)), share.shape)
        return int(min(a, b)), int(max(a, b))

    def accuracy_merging(self, a: int, b: int) -> float:
        """Accuracy when identities ``a`` and ``b`` count as one."""
        return _share(np.trace(self.confusion) + self.confusion[a, b] + self.confusion[b, a], self.confusion.sum())

    def reported(self) -> dict[str, object]:
        """The :class:`IdentityReport` fields it fills."""
        recall, taken_for = self.recall, self.taken_for
        look_alikes = tuple((k, int(taken_for[k])) for k in range(len(recall))
                            if recall[k] < MIN_ACCURACY and taken_for[k] >= 0)  # fmt: skip
        return {"validation_accuracy": self.accuracy, "look_alikes": look_alikes,
                "held_out_recall": tuple(None if np.isnan(r) else round(float(r), 3) for r in recall)}


def _share(part: int, whole: int) -> float:
    """``part / whole`` in float32, as the held-out check has always been computed: the gate at MIN_ACCURACY must not
    move. 63 of 70 crops is just under 0.9 in float32 and 0.9 in float64; measured on 10 crowded mice (fourth seed,
    one thread): a global fragments' net of 3 fragments at 63 of 70 scored IDF1 0.719 when used, where the
    individual fragments' net that replaces it scores 0.969."""
    return float(np.float32(part) / np.float32(max(int(whole), 1)))


def train_identity(
    reader: VideoReader, scene: Scene, params: Params, progress: Progress = SILENT
) -> tuple[IdentityNet | None, IdentityReport]:
    """Embedding net and class prototypes of the N individuals, or None when there is one animal, nothing to learn
    from, or too little evidence that the animals can be told apart reliably (then identities rest on motion
    alone, as they would without this stage). Where the animals are never all apart, motion alone keeps few
    identities, and a less reliable net is used (``CROWDED_MIN_ACCURACY``)."""
    if scene.n_animals < 2 or params.identity_steps <= 0:
        return None, IdentityReport(0, 0, 0, 0.0, float("nan"))
    net, report = _from_global_fragments(reader, scene, params, progress)
    if report.used:
        return net, report
    return _from_individual_fragments(reader, scene, params, progress, required_accuracy(report))


def required_accuracy(global_fragments: IdentityReport) -> float:
    """Held-out accuracy the individual fragments' net needs, after the global fragments' attempt: less where there
    were too few global fragments to train on (the animals are never all apart, and motion alone fares badly)."""
    return CROWDED_MIN_ACCURACY if global_fragments.fragments < MIN_NAMED else MIN_ACCURACY


def _from_global_fragments(
    reader: VideoReader, scene: Scene, params: Params, progress: Progress
) -> tuple[IdentityNet | None, IdentityReport]:
    began = time.monotonic()
    n = scene.n_animals
    fragments = find_global_fragments(reader, scene, params, params.identity_windows, progress)
    if len(fragments) < MIN_NAMED:  # the net could never pass the naming check: do not spend the training
        return None, IdentityReport(len(fragments), 0, 0, time.monotonic() - began, float("nan"))
    net = seeded(lambda: IdentityNet(n), params.seed)
    progress.start("learning identities", 1)
    fit_global_fragments(net, fragments, params.identity_steps, params.seed)
    first = np.repeat([f.first for f in fragments], n)
    length = np.repeat([len(f.crops) for f in fragments], n)
    label, check = name_by_clustering(net, [f.crops[:, k] for f in fragments for k in range(n)],
                                      contemporaries(first, length), n)  # fmt: skip
    progress.advance()
    progress.stop()
    named = int((label.reshape(-1, n) >= 0).all(axis=1).sum())
    return _judged(net, IdentityReport(len(fragments), named, params.identity_steps, time.monotonic() - began,
                                       **check.reported()))  # fmt: skip


def _from_individual_fragments(
    reader: VideoReader, scene: Scene, params: Params, progress: Progress, min_accuracy: float
) -> tuple[IdentityNet | None, IdentityReport]:
    began = time.monotonic()
    source = "individual fragments"
    fragments = find_individual_fragments(reader, scene, params, params.identity_windows, progress)
    together = contemporaries(np.array([f.first for f in fragments]), np.array([len(f.crops) for f in fragments]))
    groups = groups_alive_together(fragments, together)
    if len(groups) < MIN_GROUPS_PER_ANIMAL * scene.n_animals:
        return None, IdentityReport(len(fragments), 0, 0, time.monotonic() - began, float("nan"), source=source)
    net = seeded(lambda: IdentityNet(scene.n_animals), params.seed)
    steps = STEPS_FACTOR * params.identity_steps
    progress.start("learning identities from individual fragments", 1)
    fit_individual_fragments(net, fragments, groups, steps, params.seed)
    label, check = name_by_clustering(net, [f.crops for f in fragments], together, scene.n_animals)
    progress.advance()
    progress.stop()
    report = IdentityReport(len(fragments), int((label >= 0).sum()), steps, time.monotonic() - began,
                            source=source, **check.reported(), **_merged_look_alikes(net, check))  # fmt: skip
    return _judged(net, report, min_accuracy)


def _merged_look_alikes(net: IdentityNet, check: HeldOutCheck) -> dict[str, object]:
    """The last resort before motion alone: a net that fails the held-out check only because it cannot tell two
    animals apart is used with those two merged (``IdentityNet.merge``), so that motion decides between them and
    the net names the rest. Measured on 10 crowded mice (second seed, a net trained on one thread): two mice split
    across two identities (recall 0.52 and 0.75), accuracy 0.887, 0.923 with them merged; IDF1 0.505 by motion
    alone, 0.883 so. One pair only, and only here, after the global fragments' net: merging until the check
    passed merged 3–6 fish or worms into groups and scored 0.770–0.866 where motion alone scored 0.916–0.975,
    and a merged pair made 14 flies' global fragments' net pass (0.902) where the individual fragments' net
    (0.955) scores 1.000 against 0.939. The net must still tell apart at least as many animals as it merges: of
    two or three animals, a merged pair leaves it knowing nothing, or one animal."""
    if check.accuracy >= MIN_ACCURACY or len(check.confusion) < 4:
        return {}
    a, b = check.most_confused_pair()
    merged_accuracy = check.accuracy_merging(a, b)
    if merged_accuracy < MIN_ACCURACY:
        return {}
    net.merge(a, b)
    return {"merged": (a, b), "merged_accuracy": merged_accuracy}


def _judged(net: IdentityNet, report: IdentityReport, min_accuracy: float = MIN_ACCURACY
            ) -> tuple[IdentityNet | None, IdentityReport]:  # fmt: skip
    accuracy = report.validation_accuracy if report.merged_accuracy is None else report.merged_accuracy
    used = accuracy >= min_accuracy and report.named >= MIN_NAMED
    return (net if used else None), dataclasses.replace(report, used=used)


# -- naming -----------------------------------------------------------------------------------------------


def contemporaries(first: np.ndarray, length: np.ndarray) -> np.ndarray:
    """(F, F) whether two fragments (first frame, length) share a frame: then they are different animals."""
    stop = first + length
    together = (first[:, None] < stop[None]) & (first[None] < stop[:, None])
    np.fill_diagonal(together, False)
    return together


def name_by_clustering(net: IdentityNet, crops: list[torch.Tensor], together: np.ndarray,
                       n: int) -> tuple[np.ndarray, HeldOutCheck]:  # fmt: skip
    """Identity of each fragment ((T, CROP, CROP) crops each) by constrained k-means of their mean embeddings
    (``together``: :func:`contemporaries`, never in one cluster); prototypes and temperature set on ``net``.
    Returns the identities (-1: none left free) and how well the prototypes name the held-out crops."""
    vectors = torch.stack([nn.functional.normalize(net.embed_both(held_out_split(c)[0]).mean(0), dim=0)
                           for c in crops]).numpy()  # fmt: skip
    weight = np.array([len(c) for c in crops], np.float64)
    centres = _initial_centres(vectors, together, weight, n)
    label = np.full(len(crops), -1)
    for _ in range(KMEANS_ROUNDS):
        label = constrained_assign(vectors @ centres.T, together, weight)
        for k in range(n):
            mine = label == k
            if mine.any():
                c = (vectors[mine] * weight[mine, None]).sum(0)
                centres[k] = c / max(np.linalg.norm(c), 1e-9)
    net.prototypes = torch.from_numpy(centres.astype(np.float32))
    held = [(held_out_split(c)[1], label[i]) for i, c in enumerate(crops) if label[i] >= 0]
    check = calibrate(net, torch.cat([h for h, _ in held]), torch.cat([torch.full((len(h),), k) for h, k in held]))
    return label, check


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


def constrained_assign(similarity: np.ndarray, together: np.ndarray, weight: np.ndarray) -> np.ndarray:
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


def calibrate(net: IdentityNet, held: torch.Tensor, truth: torch.Tensor) -> HeldOutCheck:
    """Set the temperature that makes the similarities honest probabilities on held-out crops (n, CROP, CROP) of
    known class ``truth``; returns how well the prototypes name them."""
    cosine = net.embed_both(held) @ net.prototypes.T
    candidates = torch.logspace(-1.7, 0, 30)  # from 0.02: held-out frames are near copies of training ones
    nll = [nn.functional.cross_entropy(cosine / t, truth.long()) for t in candidates]
    net.temperature = candidates[int(torch.stack(nll).argmin())].clone()
    return held_out_check(cosine.argmax(dim=1).numpy(), truth.numpy(), len(net.prototypes))


def held_out_check(named: np.ndarray, truth: np.ndarray, n: int) -> HeldOutCheck:
    """Accuracy, per-identity recall and most frequent confusion of the identities ``named`` for crops of identity
    ``truth``. Constrained clustering keeps contemporaries apart, so two animals the net cannot tell apart share one
    identity and leave another to odds and ends of several: that identity's recall shows it (10 crowded mice, seed 2:
    two mice at embedding cosine 0.993, one identity with recall 0.44 whose crops are named as the pair's)."""
    confusion = np.zeros((n, n), np.int64)
    np.add.at(confusion, (truth.astype(np.int64), named.astype(np.int64)), 1)
    return HeldOutCheck(confusion)
