"""Scene model: background, foreground, blobs, and the size of one animal.

Everything downstream works on a block-averaged copy of each frame in which one animal is about
``Params.target_body_px`` long, so a 3712² zebrafish arena and a 320² mouse box cost about the same per
animal. The model is estimated once per recording from frames sampled across the whole video.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from udmt import kernels
from udmt.errors import InputError, InputWarning
from udmt.params import Params
from udmt.progress import SILENT, Progress
from udmt.video import VideoReader

_SAMPLE_BYTES = 256 * 2**20  # cap on the memory of the sampled frames
_FACTOR_ATTEMPTS = 4  # scene estimates at successive working resolutions before the last one is kept
ELONGATED = 0.2  # area / length² below which animals are thin (measured: worms 0.09, fish 0.13–0.14, others ≥ 0.3)


@dataclass(frozen=True)
class Scene:
    """What the tracker needs to know about a recording before it tracks anything."""

    factor: int  # block-averaging factor, original → working pixels
    background: np.ndarray  # (h, w) float32 at working resolution
    polarity: int  # +1: animals brighter than the floor, −1: darker
    noise: float  # robust sigma of the difference image
    threshold: float  # foreground where polarity·(frame − background) > threshold
    animal_area: float  # working px² of one animal's foreground
    body_length: float  # original px, major axis of one animal
    n_animals: int
    animals_seen: int  # the most animals any sampled frame shows (an upper bound), a check on n_animals

    def is_single(self, areas: np.ndarray | float) -> np.ndarray:
        """Whether blobs of these areas (working px²) are the size of one animal: the one rule by which the
        tracker, the training clips, the start frame and the identity examples tell single animals from piles."""
        return self.is_animal(areas) & (np.asarray(areas) <= 1.6 * self.animal_area)

    def is_animal(self, areas: np.ndarray | float) -> np.ndarray:
        """Whether blobs of these areas are large enough to be a whole animal (not a fragment of one)."""
        return np.asarray(areas) >= 0.5 * self.animal_area

    @property
    def elongated(self) -> bool:
        """Whether the animals are thin for their length (worms, fish, larvae: area under a fifth of the length
        squared; rodents and flies are over a quarter). Where two such animals lie across each other, the
        nearest-centre split of their blob cuts both bodies in half, so the tracker splits it by each animal's
        own shape instead (``identity.split_by_shapes``)."""
        return self.animal_area * self.factor**2 < ELONGATED * self.body_length**2

    def to_working(self, frame: np.ndarray) -> np.ndarray:
        """Block-average a uint8 frame to working resolution (float32)."""
        return downscale(frame, self.factor)

    def difference(self, small: np.ndarray) -> np.ndarray:
        """Signed foreground evidence: positive on animals, ~N(0, noise) on the floor."""
        return (small - self.background) * self.polarity

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        """Working-pixel coordinates → original-pixel coordinates (both pixel-centre conventions)."""
        return (np.asarray(xy, dtype=np.float64) + 0.5) * self.factor - 0.5

    def to_state(self) -> dict[str, Any]:
        """Everything needed to rebuild the scene, in a form ``torch.load(weights_only=True)`` accepts."""
        names = ("factor", "polarity", "noise", "threshold", "animal_area", "body_length", "n_animals", "animals_seen")
        state: dict[str, Any] = {k: getattr(self, k) for k in names}
        state["background"] = torch.from_numpy(self.background.copy())
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Scene:
        values = dict(state)
        values["background"] = values["background"].numpy().astype(np.float32)
        return cls(**values)

    def to_attrs(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "polarity": self.polarity,
            "noise": round(self.noise, 4),
            "threshold": round(self.threshold, 4),
            "animal_area_px": round(self.animal_area * self.factor**2, 1),
            "body_length_px": round(self.body_length, 2),
            "n_animals": self.n_animals,
            "animals_seen": self.animals_seen,
        }


@dataclass
class Blobs:
    """Connected foreground components of one frame, in working pixels."""

    labels: np.ndarray  # (h, w) int32, 0 = background, i+1 = blob i
    areas: np.ndarray  # (k,) pixels
    centroids: np.ndarray  # (k, 2) x, y, weighted by foreground evidence
    slices: list[tuple[slice, slice]]

    def __len__(self) -> int:
        return len(self.areas)

    def pixels(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) coordinates of blob i's pixels."""
        sy, sx = self.slices[i]
        yy, xx = np.nonzero(self.labels[sy, sx] == i + 1)
        return xx + sx.start, yy + sy.start


NO_AXIS = 1e-9  # px² per unit weight: below it a spread of pixels has no principal axis (a point, a round spot)


def principal_axis(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    """Angle (radians) of the major axis of pixels (x, y) from their weighted second moments; NaN where they have
    none (no weight, a point, a round spot)."""
    total = float(weights.sum())
    if total <= 0:
        return float("nan")
    dx, dy = x - np.dot(weights, x) / total, y - np.dot(weights, y) / total
    sxy, sdiff = 2 * np.dot(weights, dx * dy), np.dot(weights, dx * dx - dy * dy)
    return float("nan") if np.hypot(sxy, sdiff) <= NO_AXIS * total else float(0.5 * np.arctan2(sxy, sdiff))


@dataclass
class Observation:
    """A frame prepared for tracking: working-resolution image, its foreground evidence and blobs."""

    index: int
    luma: np.ndarray  # (h, w) uint8
    diff: np.ndarray  # (h, w) float32
    blobs: Blobs


def observe(index: int, frame: np.ndarray, scene: Scene, params: Params) -> Observation:
    """Working-resolution luma, foreground evidence and blobs of one decoded frame."""
    return observe_working(index, working_luma(frame, scene), scene, params)


def working_luma(frame: np.ndarray, scene: Scene) -> np.ndarray:
    """The frame at working resolution, rounded to uint8 (what is buffered and cropped)."""
    return np.clip(np.rint(scene.to_working(frame)), 0, 255).astype(np.uint8)


def observe_working(index: int, luma: np.ndarray, scene: Scene, params: Params) -> Observation:
    diff = scene.difference(luma.astype(np.float32))
    blobs = find_blobs(diff, scene.threshold, params.blob_min_fraction * scene.animal_area, opening=params.mask_opening)
    return Observation(index, luma, diff, blobs)


def downscale(frame: np.ndarray, factor: int) -> np.ndarray:
    """Block mean over factor×factor pixels (trailing rows/columns that do not fill a block are dropped)."""
    return frame.astype(np.float32) if factor == 1 else kernels.block_mean(frame, factor)


def binary_opening(mask: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.binary_opening`` by a size×size square, as shifted ANDs then ORs of boolean planes:
    several times faster for the small squares used here, and the same pixels (tests compare them)."""
    h, w = mask.shape
    centre = size // 2
    padded = np.zeros((h + size, w + size), bool)
    padded[centre : centre + h, centre : centre + w] = mask
    eroded = np.ones((h, w), bool)
    for dy, dx in itertools.product(range(size), repeat=2):
        eroded &= padded[dy : dy + h, dx : dx + w]
    padded[:] = False
    padded[size - 1 - centre : size - 1 - centre + h, size - 1 - centre : size - 1 - centre + w] = eroded
    opened = np.zeros((h, w), bool)
    for dy, dx in itertools.product(range(size), repeat=2):
        opened |= padded[dy : dy + h, dx : dx + w]
    return opened


def find_blobs(
    diff: np.ndarray, threshold: float, min_area: float, seed_threshold: float | None = None, opening: int = 1
) -> Blobs:
    """Label the foreground and measure each component (hysteresis thresholding).

    A component is everything above ``threshold`` connected to at least one pixel above ``seed_threshold``
    (default 2×threshold), and at least ``min_area`` pixels: flicker and compression noise rarely reach the
    seed level, animals always do, and the low level still gives them their full extent.
    """
    mask = diff > threshold
    if opening > 1:  # cut thin appendages (tails, legs) that would glue separate animals into one blob
        mask = binary_opening(mask, opening)
    seed = 2.0 * threshold if seed_threshold is None else seed_threshold
    labels, areas, centroids, slices = kernels.label_blobs(mask, diff, seed, min_area)
    return Blobs(labels, areas, centroids, slices)


def _sample_indices(n_frames: int, count: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_frames - 1, count).round().astype(int))


def read_frames(
    reader: VideoReader,
    indices: np.ndarray,
    progress: Progress = SILENT,
    transform: Callable[[np.ndarray], np.ndarray] = lambda frame: frame,
) -> dict[int, np.ndarray]:
    """``transform`` of the frames at ``indices``, read in one pass (:meth:`VideoReader.frames_at`)."""
    wanted = np.unique(indices)
    frames: dict[int, np.ndarray] = {}
    progress.start("reading frames", len(wanted))
    for index, frame in reader.frames_at(wanted):
        frames[index] = transform(frame)
        progress.advance()
    progress.stop()
    return frames


def _most_animals_seen(per_frame: list[Blobs], params: Params) -> int:
    """The most animals any sampled frame shows, found without the number the user gave.

    Blobs of the frames that show the most separate blobs set the size of one animal; a blob is then counted
    as the animals its area holds (at least one), so piles count in full and a rat counts as several mice:
    the count can only err high, and a number of animals above it is certainly wrong.
    """
    largest = np.median([b.areas.max() for b in per_frame if len(b)])
    big = [b.areas[b.areas >= params.blob_min_fraction * largest] for b in per_frame]
    most = max(len(a) for a in big)
    single = np.median(np.concatenate([a for a in big if len(a) == most]))
    return max(int(np.maximum(1, np.round(a / single)).sum()) for a in big)


def _single_animal_stats(per_frame: list[Blobs], n_animals: int, params: Params) -> tuple[float, float]:
    """Median area (working px²) and major-axis length (working px) of blobs that hold one animal each."""
    # Frames whose big blobs number exactly N are the clean ones; their blobs are single animals.
    largest = [np.sort(b.areas)[::-1] for b in per_frame]
    rough = np.median([a[:n_animals].mean() for a in largest if len(a)]) if any(len(a) for a in largest) else 0.0
    if rough <= 0:
        raise InputError("no animals found: the video shows no foreground that differs from its background")
    singles: list[tuple[Blobs, int]] = []
    for blobs in per_frame:
        big = np.flatnonzero(blobs.areas >= params.blob_min_fraction * rough)
        if len(big) == n_animals:
            singles.extend((blobs, int(i)) for i in big)
    if not singles:
        singles = _blobs_of_one_share(per_frame, n_animals)
    areas = np.array([blobs.areas[i] for blobs, i in singles])
    lengths = []
    for blobs, i in singles:
        x, y = blobs.pixels(i)
        if len(x) >= 3:
            cov = np.cov(np.stack([x, y]).astype(np.float64))
            lengths.append(4.0 * np.sqrt(max(np.linalg.eigvalsh(cov)[-1], 0.25)))
    return float(np.median(areas)), float(np.median(lengths)) if lengths else float(np.sqrt(np.median(areas)))


def _blobs_of_one_share(per_frame: list[Blobs], n_animals: int) -> list[tuple[Blobs, int]]:
    """Single animals where the N animals are never all apart (ten mice in a small arena): the blobs of about one
    animal's share of a frame's foreground (within a factor 1.6), else each frame's blob nearest that share.

    Taking each frame's N largest blobs instead mixes specks of noise in with the animals whenever piles leave
    fewer than N blobs (measured: a 52 px mouse taken for an 11 px one, IDF1 0.21)."""
    share = max(float(np.median([b.areas.sum() for b in per_frame])) / n_animals, 1.0)
    ratio = [np.abs(np.log(b.areas / share)) for b in per_frame]  # areas: at least find_blobs' min_area
    near = [(b, int(i)) for b, r in zip(per_frame, ratio) for i in np.flatnonzero(r < np.log(1.6))]
    return near or [(b, int(np.argmin(r))) for b, r in zip(per_frame, ratio) if len(b)]


def quartiles(samples: np.ndarray) -> np.ndarray:
    """(3, H, W) float32 25th, 50th and 75th percentiles over the frames of (T, H, W) ``samples``, as
    ``np.percentile``'s default (linear) method gives them: one sort along the short frame axis is about 8× faster
    than ``np.percentile(..., axis=0)``, which moves that axis last and partitions pixel by pixel."""
    ordered = np.sort(samples, axis=0)
    position = np.array([0.25, 0.5, 0.75]) * (len(samples) - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, len(samples) - 1)
    weight = (position - below)[:, None, None]
    return (ordered[below] * (1 - weight) + ordered[above] * weight).astype(np.float32)


def estimate_scene(reader: VideoReader, n_animals: int, params: Params, progress: Progress = SILENT) -> Scene:
    """Estimate background, polarity, threshold, animal size and the working resolution of one video."""
    if n_animals < 1:
        raise InputError(f"{reader.path}: the number of animals must be at least 1")
    budget = max(8, min(params.background_samples, _SAMPLE_BYTES // max(1, reader.width * reader.height)))
    frames = list(read_frames(reader, _sample_indices(reader.n_frames, budget), progress).values())
    factor = max(1, round(max(reader.width, reader.height) / 512))
    # At a coarse guess first, then at the resolution the animal size asks for. Thin animals shrink under heavy
    # block-averaging (zebrafish at 7×: 50 px long, 72 px at 3×), so each step refines by at most half: a coarse
    # underestimate would otherwise send the next attempt to a needlessly fine, costly resolution.
    for attempt in range(_FACTOR_ATTEMPTS):
        samples = np.stack([downscale(f, factor) for f in frames])
        low, median, high = quartiles(samples)
        # Whole-video statistics from every other pixel of every other row: the same percentiles to well within
        # their noise (tails included: a 512² working frame still gives 65k pixels per sample), 4× cheaper.
        sparse = np.s_[:, ::2, ::2]
        bright, dark = np.percentile(samples[sparse] - median[sparse[1:]], [99.99, 0.01])
        polarity = 1 if bright >= -dark else -1
        # The floor: the low quartile under bright animals, the high one under dark ones; a quartile rather than
        # the median keeps it clean where an animal rests for half the video.
        background = low if polarity > 0 else high
        diffs = (samples - background) * polarity
        noise = max(float(np.percentile(np.abs(diffs[sparse]), 90)) / 1.645, 0.25)
        contrast = float(np.percentile(diffs[sparse], 99.99))
        threshold = max(params.threshold_sigma * noise, params.threshold_contrast * contrast, 3.0)
        per_frame = [find_blobs(diff, threshold, min_area=4, opening=params.mask_opening) for diff in diffs]
        area, length = _single_animal_stats(per_frame, n_animals, params)
        wanted = max(1, int(length * factor / params.target_body_px), factor // 2)
        if wanted == factor or attempt == _FACTOR_ATTEMPTS - 1:
            break
        factor = wanted
    seen = _most_animals_seen(per_frame, params)
    if seen < n_animals:  # a warning, not an error: animals that stay still all video long blend into the floor
        warnings.warn(f"{reader.path}: {n_animals} animals asked for, but none of the {len(frames)} frames sampled "
                      f"across the video shows more than {seen}; if -n is wrong, track again with the number of "
                      "animals in the arena", InputWarning, stacklevel=2)  # fmt: skip
    return Scene(
        factor=factor,
        background=background,
        polarity=polarity,
        noise=noise,
        threshold=threshold,
        animal_area=area,
        body_length=length * factor,
        n_animals=n_animals,
        animals_seen=seen,
    )
