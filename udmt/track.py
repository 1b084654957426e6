"""The per-frame tracker: correlation filters on learned features, blob refinement, identity assignment.

One :class:`Tracker` follows N animals through consecutive frames (forward or backward in time). Per frame: crop a
search window around each animal's predicted position → feature net → correlation-filter response (where does this
animal's learned appearance match best?) → match animals to foreground blobs on a cost matrix → refine each position
on its blob (the centroid of a blob it owns alone; in a blob it shares, an animal-shaped share along each animal's
own body axis, weighted by its size, or for elongated animals the pixels nearest its own shape of the frame before,
no more than its own area alone, ``Tracker._split``) → update each filter at the refined position, slowly while
animals touch so a neighbour's appearance does not overwrite the model. A tracker left on another animal while some
animal goes unclaimed is moved to it, and a large animal's tracker left on a small animal exchanges places with a
small animal's tracker on the large one (``Tracker._reclaim``).

After each pass over a chunk, every touching episode of two animals is judged as a whole
(``identity.correct_episodes``): the frame-by-frame split of a shared blob cannot tell two animals apart while
one crosses over the other, but the way each one entered and left the episode can. Episodes that the shapes
split throughout, the animals moving slowly, are left to the tracker: two worms lying across each other for
seconds leave in directions their entry does not predict, while their shapes held them apart all along.

The appearance model (features and filters) runs on an engine of ``udmt.filters``: the C++ kernels, the torch
definition, or the GPU; the tests hold them to the same trajectories.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from udmt import identity, kernels, reidentify
from udmt.appearance import CropRecorder, IdentityNet
from udmt.errors import InputError, Interrupted
from udmt.filters import Engine, FilterBank, filter_bank
from udmt.initialise import find_start
from udmt.model import FeatureNet
from udmt.params import Params
from udmt.progress import SILENT, Progress
from udmt.scene import Observation, Scene, observe_working, principal_axis, working_luma
from udmt.store import FLAG_CORRECTED, FLAG_LOST, FLAG_MERGED, FLAG_REFINED
from udmt.video import VideoReader


@dataclass
class FrameResult:
    """One frame's output in working pixels."""

    index: int
    position: np.ndarray  # (N, 2)
    confidence: np.ndarray  # (N,)
    flags: np.ndarray  # (N,) uint8
    blob: np.ndarray  # (N,) index of the foreground blob each animal was placed on (identity.UNASSIGNED: none)
    settled: np.ndarray  # (N,) bool: placed in a shared blob by its own shape, moving slowly (Tracker._split)


# Tracks nearer than this many body lengths may have exchanged animals even on separate blobs (two white mice
# crossing at low contrast; measured on unseen seeds 5 and 6: IDF1 0.978 → 1.000 and 0.840 → 0.998)
NEAR_BODY_LENGTHS = 0.5
STRANDED_FRAMES = 3  # a surplus tracker and an unclaimed animal this many frames in a row: not a flicker
MIN_SHARE = 0.2  # of its area: an elongated animal's shape that leaves it less in a shared blob no longer fits
# … and a share larger than this many times its own area alone holds part of another animal: about twice the
# frame-to-frame spread of a worm's area alone (4–6.5 %), three to four times a fish's (2–3 %)
MAX_SHARE = 1.1
AREA_RATE = 0.1  # of the running mean of each animal's area alone


@dataclass
class Tracker:
    scene: Scene
    net: FeatureNet
    params: Params
    position: np.ndarray  # (N, 2) working px
    engine: Engine = "kernels"  # where the appearance model runs (udmt.filters)
    velocity: np.ndarray = field(init=False)
    missing: np.ndarray = field(init=False)  # frames since each animal was last on a blob
    stranded: int = field(init=False, default=0)  # consecutive frames with a surplus tracker and an orphan blob
    units: np.ndarray = field(init=False)  # each animal's size in typical animals (measured at the start)
    filters: FilterBank = field(init=False)  # each animal's appearance model
    started: bool = field(init=False, default=False)  # start() has learned the first filters
    shapes: list[np.ndarray | None] = field(init=False)  # elongated animals' last pixels (working px); None: unknown
    axes: np.ndarray = field(init=False)  # compact animals' last body axes (radians); NaN: unknown
    areas: np.ndarray = field(init=False)  # each animal's area alone (working px², running mean); NaN: unknown

    def __post_init__(self) -> None:
        n = len(self.position)
        self.position = self.position.astype(np.float64)
        self.velocity = np.zeros((n, 2))
        self.missing = np.zeros(n, dtype=int)
        self.units = np.ones(n, dtype=int)
        self.shapes = [None] * n
        self.axes = np.full(n, np.nan)
        self.areas = np.full(n, np.nan)
        p = self.params
        self.body = self.scene.body_length / self.scene.factor  # working px
        self.width = self.scene.animal_area / self.body  # working px, an animal's mean width
        # variances along and across the body of an ellipse of the animal's length and area (working px²)
        self.body_shape = ((self.body / 4) ** 2, (self.width / np.pi) ** 2)
        self.window_side = p.search_scale * self.body
        self.map_size = p.patch // 2
        self.cell = self.window_side / self.map_size  # working px per feature-map pixel
        self.filters = filter_bank(self.engine, self.scene, self.net, p, self.window_side)

    # -- one frame --------------------------------------------------------------------------------------
    def start(self, obs: Observation) -> FrameResult:
        """Learn the first filters at the initial positions (the anchors of the template bank)."""
        self.filters.start(self.filters.features(obs.luma, self.position))
        self.started = True
        self.units = _sizes(obs, self.position, self.scene)
        under = identity.blob_at(self.position, obs.blobs)
        for a in np.flatnonzero(under >= 0):  # each animal alone in its blob: its first shape or body axis
            if np.sum(under == under[a]) == 1:
                x, y = obs.blobs.pixels(int(under[a]))
                self._remember(a, x, y, np.clip(obs.diff[y, x], 0.0, None))
        n = len(self.position)
        flags, blob = np.full(n, FLAG_REFINED, np.uint8), np.full(n, identity.UNASSIGNED)
        return FrameResult(obs.index, self.position.copy(), np.ones(n, np.float32), flags, blob, np.zeros(n, bool))

    def step(self, obs: Observation) -> FrameResult:
        assert self.started, "call start() first"
        n = len(self.position)
        expected = self.position + self.velocity
        features = self.filters.features(obs.luma, expected)
        offset, psr = self.filters.respond(features)
        peak = expected + offset * self.cell
        trusted = psr > 4.0
        guess = np.where(trusted[:, None], peak, expected)

        gates = identity.Gates(
            max_jump=self.params.max_speed * self.body * (1.0 + np.minimum(self.missing, 10)),
            slot_penalty=0.3 * self.body,
            extra_slot_penalty=1.0 * self.body,
            fragment_penalty=0.3 * self.body,  # a piece of an animal: as costly as a second place in a blob
        )
        whole = self.scene.is_animal(obs.blobs.areas)  # per blob: not a piece of an animal
        owner = identity.assign_to_blobs(guess, obs.blobs, self.scene.animal_area, gates, self.units, whole)
        reclaimed = self._reclaim(owner, obs, psr, whole)
        new = guess.copy()
        flags = np.zeros(n, np.uint8)
        by_shape = np.zeros(n, bool)  # placed in a shared blob by its own shape
        for b in np.unique(owner[owner >= 0]):
            animals = np.flatnonzero(owner == b)
            x, y = obs.blobs.pixels(int(b))
            weights = np.clip(obs.diff[y, x], 0.0, None)
            if len(animals) == 1:
                a = animals[0]
                single = bool(self.scene.is_single(obs.blobs.areas[b] / self.units[a]))
                if single:
                    new[a] = obs.blobs.centroids[b]
                    self._remember(a, x, y, weights)
                    old = self.areas[a]
                    self.areas[a] = len(x) if np.isnan(old) else (1 - AREA_RATE) * old + AREA_RATE * len(x)
                else:
                    new[a], near = identity.local_centroid(x, y, weights, guess[a], 0.6 * self.body)
                    self._remember(a, x[near], y[near], weights[near])
                flags[a] = FLAG_REFINED
            else:
                new[animals], by_shape[animals] = self._split(animals, x, y, weights, guess[animals])
                flags[animals] = FLAG_MERGED
        lost = owner < 0
        flags[lost] = FLAG_LOST
        for a in np.flatnonzero(lost | reclaimed):
            self.shapes[a] = None
            self.axes[a] = np.nan
        self.areas[reclaimed] = np.nan  # moved to another animal
        self.missing = np.where(lost, self.missing + 1, 0)

        moved = new - self.position
        self.velocity = np.where(lost[:, None], 0.8 * self.velocity, 0.5 * moved + 0.5 * self.velocity)
        self.velocity[reclaimed] = 0.0
        # A shape moved by less than half the animal's width explains the next frame: such a split is trusted.
        settled = by_shape & (np.linalg.norm(self.velocity, axis=1) <= 0.5 * self.width)
        self.position = new
        rate = np.where(reclaimed, 0.0, self._filter_rate(flags))  # its window was cut elsewhere: nothing to learn
        flags[reclaimed] |= FLAG_CORRECTED
        self.filters.update(features, (new - expected) / self.cell, rate)
        confidence = np.clip((psr - 3.0) / 12.0, 0.05, 1.0).astype(np.float32)
        confidence = np.where(flags == FLAG_REFINED, np.maximum(confidence, 0.9), confidence)
        confidence = np.where(lost, np.minimum(confidence, 0.2), confidence).astype(np.float32)
        return FrameResult(obs.index, new.copy(), confidence, flags, owner, settled)

    def _remember(self, animal: int, x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> None:
        """Keep what the next frame's split (``_split``) starts from: an elongated animal's pixels as its shape, a
        compact animal's body axis."""
        if self.scene.elongated:
            self.shapes[animal] = np.stack([x, y], axis=1).astype(np.float64) if len(x) else None
        else:
            self.axes[animal] = principal_axis(x, y, weights)

    def _split(self, animals: np.ndarray, x: np.ndarray, y: np.ndarray, weights: np.ndarray,
               peaks: np.ndarray) -> tuple[np.ndarray, bool]:  # fmt: skip
        """Positions of ``animals`` sharing one blob of pixels (x, y), and whether their shapes placed them.

        Compact animals (mice, flies) take animal-shaped shares: started from the filter peaks and from each
        animal's body axis of the frame before, each animal is an ellipse of its size along its own body axis
        (``kernels.split_blob_shaped``), so two bodies lying across each other are not cut into halves of both.
        Elongated animals bend, so no ellipse fits them: those whose shapes are known share the blob by their
        shapes moved by their velocities (``identity.split_by_shapes``), none taking much more than its own area
        alone (a worm crawling over another grows a new arm nearer the other's body than its own); otherwise, or
        where a shape no longer fits, a k-means split started from the filter peaks decides, each animal weighted
        by its size (its pixels there become its shape)."""
        units = self.units[animals]
        if not self.scene.elongated:
            centres, self.axes[animals] = kernels.split_blob_shaped(x, y, weights, peaks, units, self.body_shape,
                                                                    self.axes[animals])
            return centres, False
        known = [self.shapes[a] for a in animals]
        if all(s is not None for s in known):
            expected = [s + self.velocity[a] for s, a in zip(known, animals)]
            typical = self.scene.animal_area * units
            own = np.where(np.isnan(self.areas[animals]), typical, self.areas[animals])
            split = identity.split_by_shapes(x, y, weights, expected, MIN_SHARE * typical, MAX_SHARE * own)
            if split is not None:
                for a, pixels in zip(animals, split[1]):
                    self.shapes[a] = pixels
                return split[0], True
        centres = kernels.split_blob(x, y, weights, peaks, units)
        cell = identity.nearest_centre(x, y, centres, units)
        for k, a in enumerate(animals):
            self._remember(a, x[cell == k], y[cell == k], weights[cell == k])
        return centres, False

    def _reclaim(self, owner: np.ndarray, obs: Observation, psr: np.ndarray, whole: np.ndarray) -> np.ndarray:
        """Repair a tracker in the wrong place, in ``owner``, once the error has held ``STRANDED_FRAMES`` frames
        in a row: a large animal's tracker on a small animal moves to the blob that can hold it, in exchange
        for the small tracker there that matches its appearance worst (lowest PSR); else, with two trackers on
        one animal (or one on a fragment of an animal) and an animal nobody tracks, the misplaced tracker with
        the lowest PSR (never a large animal's) moves to that animal. Returns which animals moved (the identity
        stages judge the new segments)."""
        moved = np.zeros(len(owner), bool)
        area = self.scene.animal_area
        large = identity.large_on_small(owner, obs.blobs, area, self.units)
        found = identity.surplus_and_orphan(owner, obs.blobs, area, self.units, whole)
        misplaced, orphan = found if found is not None else (np.zeros(0, int), -1)
        candidates = [a for a in misplaced if self.units[a] == 1]
        self.stranded = self.stranded + 1 if candidates or large is not None else 0
        if self.stranded < STRANDED_FRAMES:
            return moved
        self.stranded = 0
        if large is not None:
            animal, fitting = large
            small = np.flatnonzero((owner == fitting) & (self.units == 1))
            if len(small):
                exchanged = small[np.argmin(psr[small])]
                owner[exchanged], moved[exchanged] = owner[animal], True
            owner[animal], moved[animal] = fitting, True
        else:
            surplus = min(candidates, key=lambda a: psr[a])
            owner[surplus], moved[surplus] = orphan, True
        return moved

    def _filter_rate(self, flags: np.ndarray) -> np.ndarray:
        """Running average (rate η); much slower while touching, frozen while lost: aggregation over time.

        While animals pile up, the window around one holds mostly its neighbours, so a filter that kept learning
        there would drift onto a neighbour over a long episode; a tenth of the rate keeps it on its own animal.
        """
        touching = np.where(flags == FLAG_MERGED, 0.1, 0.0)
        return np.where(flags == FLAG_REFINED, 1.0, touching) * self.params.filter_rate


def _sizes(obs: Observation, position: np.ndarray, scene: Scene) -> np.ndarray:
    """Each animal's size in typical animals: where it is alone in a blob larger than one animal can be
    (``Scene.is_single``), that blob's capacity; else 1."""
    units = np.ones(len(position), dtype=int)
    blob = identity.blob_at(position, obs.blobs)
    for i in np.flatnonzero(blob >= 0):
        area = obs.blobs.areas[blob[i] : blob[i] + 1]
        if np.sum(blob == blob[i]) == 1 and not scene.is_single(area)[0]:
            units[i] = identity.blob_capacity(area, scene.animal_area)[0]
    return units


def run_tracker(tracker: Tracker, observations: Iterable[Observation]) -> Iterator[tuple[Observation, FrameResult]]:
    """Start on the first observation, then step through the rest; yields each observation with its result."""
    it = iter(observations)
    first = next(it)
    yield first, tracker.start(first)
    for obs in it:
        yield obs, tracker.step(obs)


@dataclass
class ChunkTracks:
    """Chunk-local tracks over frames [start, start + len).

    Without an identity classifier, the columns are the chunk's own tracks until stitched; with one, column k is
    identity k of the classifier and ``start_identity`` names the identity of each track the tracker started
    with (in the order of the initial positions), so the first chunk fixes the output's animal order.
    """

    start: int
    position: np.ndarray  # (T, N, 2) original px
    confidence: np.ndarray  # (T, N)
    flags: np.ndarray  # (T, N)
    start_frame: int  # where the tracker was initialised
    start_identity: np.ndarray | None = None  # (N,) identity of each initial track; None: not identified
    identity_changes: int = 0  # segments the classifier moved to another identity than the tracker's
    identity_votes: tuple[int, int] = (0, 0)  # crops whose likeliest identity is the one they were given, of all
    forward_backward: np.ndarray | None = None  # (k, N) udmt.quality check errors, original px; None: not checked


def track_chunk(
    reader: VideoReader,
    scene: Scene,
    net: FeatureNet,
    params: Params,
    start: int,
    stop: int,
    *,
    initial: np.ndarray | None = None,
    identities: IdentityNet | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Progress = SILENT,
    engine: Engine = "kernels",
) -> ChunkTracks:
    """Track frames [start, stop): initialise at the cleanest frame near ``start`` (or at ``initial`` original-px
    positions on frame ``start``), forward to ``stop`` and backward to ``start``; then, with an identity
    classifier, relabel the tracks by the animals' looks (``udmt.reidentify``).

    ``engine`` says where the appearance model runs (``udmt.filters``). Only the frames before the initial frame
    are buffered (bounded by the overlap), so memory does not grow with the chunk.
    """
    n, total = scene.n_animals, stop - start
    position = np.full((total, n, 2), np.nan, np.float32)
    confidence = np.zeros((total, n), np.float32)
    flags = np.zeros((total, n), np.uint8)
    blob = np.full((total, n), identity.UNASSIGNED, np.int32)
    settled = np.zeros((total, n), bool)
    crops = CropRecorder(scene, start, total) if identities is not None else None

    # Decoded frames the identity crops will be cut from (the buffer's, and the latest): only those the
    # recorder wants, as a 3712² frame is 14 MB and the buffer holds up to the overlap's length of them.
    originals: dict[int, np.ndarray] = {}

    def observed(pairs: Iterable[tuple[int, np.ndarray]]) -> Iterator[Observation]:
        for i, f in pairs:
            if crops is not None and crops.wants(i):
                originals[i] = f
            yield observe_working(i, working_luma(f, scene), scene, params)

    def record(obs: Observation, result: FrameResult) -> None:
        i = result.index - start
        position[i] = scene.to_original(result.position)
        confidence[i] = result.confidence
        flags[i] = result.flags
        blob[i] = result.blob
        settled[i] = result.settled
        if crops is not None and crops.wants(obs.index):
            crops.record(originals[obs.index], obs, result.blob, tracker.units)

    frames = reader.frames(start, stop)
    progress.start("tracking", total)
    lookahead = min(total, max(params.overlap_frames, 32))
    buffer = list(observed(itertools.islice(frames, lookahead)))
    if not buffer:
        raise InputError(f"{reader.path}: no decodable frames in [{start}, {stop})")
    buffered = buffer[-1].index
    if initial is not None:
        first, placed = buffer[0], (np.asarray(initial, np.float64) + 0.5) / scene.factor - 0.5
    else:
        first, placed = find_start(buffer, scene)
    at = first.index - start
    for direction in (-1, 1):  # backward over the buffer, then forward through the rest of the chunk
        tracker = Tracker(scene, net, params, placed.copy(), engine)
        if direction < 0:
            sequence: Iterable[Observation] = reversed(buffer[: at + 1])
        else:
            sequence = itertools.chain(buffer[at:], observed(frames))
        for obs, result in run_tracker(tracker, sequence):
            if should_stop():
                raise Interrupted(f"stopped at frame {result.index}; completed chunks are kept, re-run to resume")
            record(obs, result)
            progress.advance()
            if obs.index > buffered:
                originals.pop(obs.index, None)
        # The pass's frames in the order it tracked them, for the segment-level identity check.
        done = slice(at, None, -1) if direction < 0 else slice(at, None)
        others = (confidence[done],) if crops is None else (confidence[done], crops.index[done])
        if params.episode_correction:
            identity.correct_episodes(position[done], blob[done], flags[done], FLAG_CORRECTED, others,
                                      settled=settled[done])
    progress.stop()
    tracks = ChunkTracks(start, position, confidence, flags, first.index)
    if identities is None or crops is None:
        return tracks
    return _reidentify(tracks, crops.evidence(identities), at, scene.body_length)


MAX_INTERPOLATED_GAP = 15  # frames; longer gaps stay unknown (NaN)


def _reidentify(tracks: ChunkTracks, evidence: np.ndarray, at: int, body_length: float) -> ChunkTracks:
    """The chunk with one column per learned identity (see ``udmt.reidentify``)."""
    total, n = tracks.flags.shape
    segments, touches = reidentify.segments_of(tracks.flags, evidence, tracks.position, NEAR_BODY_LENGTHS * body_length)
    reidentify.name_segments(segments, evidence.shape[2], total)
    columns = {"position": (tracks.position, np.nan), "confidence": (tracks.confidence, 0.0),
               "evidence": (evidence, np.nan)}
    out, flags, changes = reidentify.relabel(segments, touches, columns, tracks.flags, FLAG_CORRECTED)
    start_identity = reidentify.identities_at(segments, n, at)
    reidentify.fill_gaps(out["position"], out["confidence"], flags, max_gap=MAX_INTERPOLATED_GAP)
    # A crop agrees when no identity is likelier than the one it was given (ties: identities merged as look-alikes).
    named = out["evidence"]
    seen = ~np.isnan(named).any(axis=2)
    own = named[:, np.arange(n), np.arange(n)]
    agreeing = int((seen & (own >= named.max(axis=2))).sum())  # unseen rows: NaN, never agreeing
    return ChunkTracks(tracks.start, out["position"], out["confidence"], flags, tracks.start_frame, start_identity,
                       changes, (agreeing, int(seen.sum())))
