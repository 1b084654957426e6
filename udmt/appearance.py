"""Who is who by looks: the identity net, the crops it sees, and the global fragments it first learns from.

Motion alone cannot keep identities through a long recording: every pile-up of animals is a chance to swap,
and swaps accumulate over hours. Individuals differ a little in size, shade and markings, and a small CNN learns
those differences from *global fragments* — stretches where every animal is alone in its blob and each moves
much less than the distance to its neighbours, so frame-to-frame linking cannot be wrong. Within a fragment the
N tracks are N different animals, which is all a contrastive loss needs (the scheme of idtracker.ai v6, here with
no labels and no pretrained weights); ``udmt.individuals`` names the animals and decides whether the net is
reliable enough to use. Crops are aligned with each animal's body axis so the net need not learn rotations; the
head–tail ambiguity is handled by training and predicting on both orientations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from udmt.kernels import linear_sum_assignment
from udmt.optim import Adam
from udmt.params import Params
from udmt.progress import SILENT, Progress
from udmt.scene import Blobs, Observation, Scene, observe, principal_axis
from udmt.video import VideoReader

CROP = 64  # classifier input side, pixels: about one per original pixel, where the individual texture is
CROP_BODY_LENGTHS = 1.4  # crop side in body lengths
WINDOW_FRAMES = 48  # consecutive frames read per sampled window
MIN_FRAGMENT = 6  # shortest global fragment worth keeping, frames
TRAIN_TEMPERATURE = 0.1  # of the contrastive loss
EVIDENCE_STRIDE = 3  # frames between identity crops while tracking

class IdentityNet(nn.Module):
    """Aligned crop (B, 1, CROP, CROP) → unit-length embedding; identities are the nearest class prototype."""

    def __init__(self, n_classes: int, dim: int = 32) -> None:
        super().__init__()
        # Small on purpose (it trains in seconds on a CPU), but it sees the full-resolution crop: the first
        # layer's stride, not a blur, halves it. Measured on the 5-mouse scene (200 steps, per-crop accuracy
        # against the truth): 32-px crops 0.78, 64-px crops 0.94, 64-px crops through this strided net 0.96.
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * (CROP // 16) ** 2, 64), nn.ReLU(), nn.Linear(64, dim),
        )  # fmt: skip
        self.register_buffer("prototypes", torch.zeros(n_classes, dim))
        self.register_buffer("temperature", torch.tensor(TRAIN_TEMPERATURE))  # calibrated after training
        self.register_buffer("group", torch.arange(n_classes))  # identities it cannot tell apart share one (merge)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.body(x), dim=1)

    def embed_both(self, crops: torch.Tensor) -> torch.Tensor:
        """(n, dim) embeddings of (n, CROP, CROP) crops, averaged over both head–tail orientations."""
        x = crops[:, None]
        with torch.no_grad():
            return nn.functional.normalize(self.embed(x) + self.embed(torch.flip(x, dims=(-2, -1))), dim=1)

    def merge(self, a: int, b: int) -> None:
        """Identities ``a`` and ``b`` look alike to the net: from now on it gives both the same probability."""
        self.group[self.group == self.group[b]] = self.group[a]

    def log_probs(self, crops: torch.Tensor) -> np.ndarray:
        """(n, K) log-probabilities of each crop's identity; identities of one group share their group's equally."""
        if len(crops) == 0:
            return np.zeros((0, len(self.prototypes)), np.float32)
        logits = self.embed_both(crops) @ self.prototypes.T / self.temperature
        logp = torch.log_softmax(logits, dim=1)
        if bool((self.group == torch.arange(len(self.group))).all()):
            return logp.numpy()
        same = self.group[:, None] == self.group[None, :]  # (K, K) identities of one group
        shared = torch.logsumexp(logp[:, None, :].masked_fill(~same, -torch.inf), dim=2)  # in log space: no underflow
        return (shared - torch.log(same.sum(dim=1).to(logp.dtype))).numpy()


# -- crops ------------------------------------------------------------------------------------------------


def body_axes(blobs: Blobs, diff: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Angle (radians) of the major axis of each blob in ``which``, from its foreground-weighted moments (0 for a
    round blob)."""
    angles = np.zeros(len(which))
    for k, b in enumerate(which):
        x, y = blobs.pixels(int(b))
        angles[k] = np.nan_to_num(principal_axis(x, y, np.clip(diff[y, x], 1e-6, None).astype(np.float64)))
    return angles


def animal_crops(frame: np.ndarray, scene: Scene, obs: Observation, which: np.ndarray) -> torch.Tensor:
    """(n, CROP, CROP) aligned crops of the animals alone in blobs ``which`` of ``obs``: centred on each blob,
    x along its body axis, every other animal's blob blanked — a neighbour in the corner of the crop is not the
    animal. Fragments smaller than half an animal stay: mostly a piece of the animal beside them (a fin)."""
    centres = scene.to_original(obs.blobs.centroids[which])
    whole = np.flatnonzero(scene.is_animal(obs.blobs.areas))
    relabel = np.zeros(len(obs.blobs) + 1, np.int32)
    relabel[whole + 1] = whole + 1
    labels = relabel[obs.blobs.labels]
    return aligned_crops(frame, scene, centres, body_axes(obs.blobs, obs.diff, which), (labels, which))


def aligned_crops(frame: np.ndarray, scene: Scene, centres: np.ndarray, angles: np.ndarray,
                  own: tuple[np.ndarray, np.ndarray] | None = None) -> torch.Tensor:  # fmt: skip
    """(n, CROP, CROP) crops of the foreground evidence around ``centres`` (original px), x along each body axis.

    Values are the frame minus the background, signed so animals are positive, in units of 64 grey levels —
    not normalised per crop, because shade is one of the things that tells individuals apart. With ``own`` =
    (blob label image at working resolution, 0 = floor and i + 1 = blob i; each crop's own blob), pixels of the
    other blobs, with a margin for their soft edges, are set to the floor's 0.
    """
    n = len(centres)
    if n == 0:
        return torch.zeros((0, CROP, CROP))
    side = CROP_BODY_LENGTHS * scene.body_length
    u = (torch.arange(CROP, dtype=torch.float64) + 0.5) / CROP * side - side / 2
    cos = torch.from_numpy(np.cos(angles))[:, None, None]
    sin = torch.from_numpy(np.sin(angles))[:, None, None]
    c = torch.from_numpy(np.asarray(centres, np.float64))
    uu, vv = u[None, None, :], u[None, :, None]
    x = c[:, 0, None, None] + uu * cos - vv * sin  # (n, CROP, CROP) original px
    y = c[:, 1, None, None] + uu * sin + vv * cos
    h, w = frame.shape
    image = _sampled_region(frame, x, y)[None, None].expand(n, 1, h, w)
    grid = torch.stack([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], dim=-1).float()
    pixels = nn.functional.grid_sample(image, grid, align_corners=True, padding_mode="border")[:, 0]
    bh, bw = scene.background.shape
    xs, ys = (x + 0.5) / scene.factor - 0.5, (y + 0.5) / scene.factor - 0.5
    floor_grid = torch.stack([2 * xs / (bw - 1) - 1, 2 * ys / (bh - 1) - 1], dim=-1).float()
    floor_image = torch.from_numpy(scene.background)[None, None].expand(n, 1, bh, bw)
    floor = nn.functional.grid_sample(floor_image, floor_grid, align_corners=True, padding_mode="border")[:, 0]
    crops = (pixels - floor) * (scene.polarity / 64.0)
    if own is None:
        return crops
    labels, which = own
    label_image = torch.from_numpy(labels.astype(np.float32))[None, None].expand(n, 1, bh, bw)
    label = nn.functional.grid_sample(label_image, floor_grid, mode="nearest", align_corners=True,
                                      padding_mode="zeros")[:, 0]  # fmt: skip
    mine = label == torch.from_numpy(np.asarray(which) + 1.0).float()[:, None, None]
    others = (label > 0) & ~mine
    near = others.flatten(1).any(dim=1)  # most animals have no neighbour in view: no margin to draw
    if near.any():
        others[near] = nn.functional.max_pool2d(others[near].float()[:, None], 5, stride=1, padding=2)[:, 0] > 0
    return torch.where(others & ~mine, 0.0, crops)


def _sampled_region(frame: np.ndarray, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(h, w) float32 copy of ``frame`` inside :func:`sampled_bounds` and unset elsewhere: converting all of a 1024²
    frame for two crops cost more than cutting them. The image keeps the frame's size, so the samples are the same
    bit for bit."""
    y0, y1, x0, x1 = sampled_bounds(frame.shape, x, y)
    image = torch.empty(frame.shape, dtype=torch.float32)
    image[y0:y1, x0:x1] = torch.from_numpy(frame[y0:y1, x0:x1])
    return image


def sampled_bounds(shape: tuple[int, ...], x: torch.Tensor, y: torch.Tensor) -> tuple[int, int, int, int]:
    """Rows y0:y1 and columns x0:x1 that bilinear samples at (x, y), clamped to the border, can read, with a margin
    for the rounding of the float32 grid."""
    h, w = shape
    low_x, high_x = np.clip([float(x.min()), float(x.max())], 0, w - 1)
    low_y, high_y = np.clip([float(y.min()), float(y.max())], 0, h - 1)
    x0, x1 = max(0, int(np.floor(low_x)) - 2), min(w, int(np.ceil(high_x)) + 3)
    y0, y1 = max(0, int(np.floor(low_y)) - 2), min(h, int(np.ceil(high_y)) + 3)
    return y0, y1, x0, x1


def one_blob_per_animal(blobs: Blobs, scene: Scene) -> np.ndarray | None:
    """Indices of the N blobs when each surely holds one animal, else None: exactly N blobs of at least half an
    animal. Smaller blobs are fragments (a translucent fin cut off its fish at the thin peduncle, noise) and do not
    count.

    Counting rather than sizing each blob admits animals of different sizes (a rat among mice); a pile and a
    stray animal-sized blob together could fool it, but not for a whole global fragment of unambiguous motion.
    """
    whole = np.flatnonzero(scene.is_animal(blobs.areas))
    return whole if len(whole) == scene.n_animals else None


# -- global fragments -------------------------------------------------------------------------------------


@dataclass
class Fragment:
    """Consecutive frames where all N animals are alone in view and linked without ambiguity."""

    first: int  # frame index
    crops: torch.Tensor  # (T, N, CROP, CROP): column k follows one animal through the fragment


def window_starts(n_frames: int, count: int) -> list[int]:
    """First frames of up to ``count`` stretches of WINDOW_FRAMES frames spread evenly through the video; they
    never overlap."""
    if n_frames <= WINDOW_FRAMES:
        return [0]
    count = max(1, min(count, n_frames // WINDOW_FRAMES))
    return sorted({int(s) for s in np.linspace(0, n_frames - WINDOW_FRAMES, count).round()})


def window_frames(reader: VideoReader, starts: list[int]) -> Iterator[tuple[bool, int, np.ndarray]]:
    """``(first, index, frame)`` through the windows that begin at ``starts``, read in one pass; ``first`` marks
    each window's first frame."""
    indices = [i for s in starts for i in range(s, min(s + WINDOW_FRAMES, reader.n_frames))]
    begins = set(starts)
    for index, frame in reader.frames_at(indices):
        yield index in begins, index, frame


def find_global_fragments(
    reader: VideoReader, scene: Scene, params: Params, windows: int = 24, progress: Progress = SILENT
) -> list[Fragment]:
    """Global fragments in ``windows`` stretches of WINDOW_FRAMES frames spread through the video."""
    fragments: list[Fragment] = []
    starts = window_starts(reader.n_frames, windows)
    progress.start("finding identity examples", len(starts))
    run: list[torch.Tensor] = []
    run_first, previous = 0, None
    for first, index, frame in window_frames(reader, starts):
        if first:
            _close(run, run_first, fragments)
            run, previous = [], None
            progress.advance()
        obs = observe(index, frame, scene, params)
        single = one_blob_per_animal(obs.blobs, scene)
        if single is None:
            _close(run, run_first, fragments)
            run, previous = [], None
            continue
        centres = obs.blobs.centroids[single]
        if previous is not None:
            order = _unambiguous_link(previous, centres)
            if order is None:  # a new fragment starts here
                _close(run, run_first, fragments)
                run = []
            else:
                single, centres = single[order], centres[order]
        if not run:
            run_first = index
        run.append(animal_crops(frame, scene, obs, single))
        previous = centres
    _close(run, run_first, fragments)
    progress.stop()
    return sorted(fragments, key=lambda f: (-len(f.crops), f.first))


def _unambiguous_link(previous: np.ndarray, current: np.ndarray) -> np.ndarray | None:
    """Order of ``current`` continuing ``previous``, or None when any animal moved more than a third of the
    distance to its nearest neighbour (then a swap would be possible)."""
    dist = np.linalg.norm(previous[:, None] - current[None], axis=2)
    rows, cols = linear_sum_assignment(dist)
    gaps = np.linalg.norm(current[:, None] - current[None], axis=2)
    np.fill_diagonal(gaps, np.inf)
    nearest = gaps.min(axis=1) if len(current) > 1 else np.array([np.inf])
    order = cols[np.argsort(rows)]
    if (dist[rows, cols] > nearest[cols] / 3).any():
        return None
    return order


def _close(run: list[torch.Tensor], first: int, fragments: list[Fragment]) -> None:
    if len(run) >= MIN_FRAGMENT:
        fragments.append(Fragment(first, torch.stack(run)))


# -- training ---------------------------------------------------------------------------------------------


def held_out_split(crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Training frames and held-out frames (the last fifth: neighbouring frames are near copies)."""
    cut = len(crops) - max(1, len(crops) // 5)
    return crops[:cut], crops[cut:]


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """What real recordings vary: head–tail orientation of the crop, small shifts, light, sensor noise."""
    b = len(x)
    x = x[:, None]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], torch.flip(x, dims=(-2, -1)), x)
    dy, dx = (int(v) for v in torch.randint(-2, 3, (2,), generator=gen))
    x = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    gain = 1.0 + 0.1 * (2 * torch.rand(b, 1, 1, 1, generator=gen) - 1)
    return x * gain + 0.03 * torch.randn(x.shape, generator=gen)


def fit_global_fragments(net: IdentityNet, fragments: list[Fragment], steps: int, seed: int,
                         per_step: int = 8) -> None:  # fmt: skip
    """Within a global fragment the N tracks are N different animals: pull two crops of one track together and
    push those of the other tracks away (InfoNCE over the fragment's animals). Every fragment teaches, no names
    needed — the contrastive scheme of idtracker.ai v6."""
    gen = torch.Generator().manual_seed(seed)
    train = [held_out_split(f.crops)[0] for f in fragments]
    optimiser = Adam(net.parameters(), lr=1e-3)
    net.train()
    for _ in range(steps):
        chosen = torch.randint(len(train), (per_step,), generator=gen).tolist()
        first, second = [], []
        for k in chosen:
            a, b = torch.randint(len(train[k]), (2,), generator=gen).tolist()
            first.append(train[k][a])
            second.append(train[k][b])
        n = first[0].shape[0]
        e1 = net.embed(augment(torch.cat(first), gen)).view(per_step, n, -1)
        e2 = net.embed(augment(torch.cat(second), gen)).view(per_step, n, -1)
        logits = e1 @ e2.transpose(1, 2) / TRAIN_TEMPERATURE  # (per_step, n, n)
        target = torch.arange(n).repeat(per_step)
        loss = nn.functional.cross_entropy(logits.reshape(-1, n), target)
        loss = loss + nn.functional.cross_entropy(logits.transpose(1, 2).reshape(-1, n), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    net.eval()


# -- evidence while tracking ------------------------------------------------------------------------------


class CropRecorder:
    """Aligned crops of the animals a tracker saw alone in their blobs, indexed by (frame, track), so the
    identity evidence can be computed in large batches once the chunk is tracked (and follow the tracks through
    the episode corrections, which exchange columns of ``index``)."""

    def __init__(self, scene: Scene, start: int, total: int) -> None:
        self.scene, self.start = scene, start
        self.index = np.full((total, scene.n_animals), -1, np.int64)
        self.crops: list[torch.Tensor] = []
        self.count = 0

    @staticmethod
    def wants(index: int) -> bool:
        """Whether frame ``index`` is recorded: every EVIDENCE_STRIDE-th frame, as neighbouring frames are near
        copies, and this is a third of the work (and of the frames the tracker must keep for it)."""
        return index % EVIDENCE_STRIDE == 0

    def record(self, frame: np.ndarray, obs: Observation, owner: np.ndarray, units: np.ndarray) -> None:
        """Crops of the animals alone in a blob the size of one of the animals in this frame (``owner``: blob per
        animal; ``units``: each animal's size in typical animals); call it for the frames it :meth:`wants`.

        Any animal's size, not the track's own: where a mouse's tracker ended on the rat (or the rat's on a
        mouse), the crop is what tells the identity stage so; a track's own size would have hidden exactly those.
        """
        owned, counts = np.unique(owner[owner >= 0], return_counts=True)
        alone = np.isin(owner, owned[counts == 1])
        area = obs.blobs.areas[np.where(alone, owner, 0)] if len(obs.blobs) else np.zeros(len(owner))
        one = self.scene.is_single(area) | self.scene.is_single(area / units.max())  # a typical or the largest
        animals = np.flatnonzero(alone & one)
        if len(animals) == 0:
            return
        self.crops.append(animal_crops(frame, self.scene, obs, owner[animals]))
        self.index[obs.index - self.start, animals] = np.arange(self.count, self.count + len(animals))
        self.count += len(animals)

    def evidence(self, net: IdentityNet, batch: int = 1024) -> np.ndarray:
        """(T, N, K) log-probability of each identity per frame and track; NaN where no crop was taken."""
        crops = torch.cat(self.crops) if self.crops else torch.zeros((0, CROP, CROP))
        logp = np.concatenate([net.log_probs(crops[i : i + batch]) for i in range(0, len(crops), batch)] or
                              [np.zeros((0, len(net.prototypes)), np.float32)])
        out = np.full(self.index.shape + (logp.shape[1],), np.nan, np.float32)
        seen = self.index >= 0
        out[seen] = logp[self.index[seen]]
        return out
