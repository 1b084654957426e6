"""Unit tests of the tracker: touching episodes and their segment-level correction, and the fast paths
(C++ filter kernels, blob measurement, peak statistics) against their definitions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from scipy import ndimage

from udmt import identity
from udmt.initialise import place_animals
from udmt.params import Params
from udmt.scene import (Observation, Scene, _single_animal_stats, binary_opening, estimate_scene, find_blobs,
                        principal_axis, quartiles)
from udmt.filters import peak_and_psr
from udmt.track import STRANDED_FRAMES, ChunkTracks, FrameResult, Tracker, _sizes
from udmt.identity import UNASSIGNED, Episode
from udmt.store import FLAG_CORRECTED, FLAG_MERGED, FLAG_REFINED
from udmt.video import VideoReader

from real_data import REAL, needs_real

T = 40
TOUCH = slice(15, 25)  # frames 15..24 share one blob


def _blobs(n: int, touching: tuple[int, ...]) -> np.ndarray:
    """Blob ownership: every animal on its own blob, except ``touching`` sharing blob 99 during TOUCH."""
    blob = np.tile(np.arange(n), (T, 1)).astype(np.int32)
    blob[TOUCH, list(touching)] = 99
    return blob


def _burst_past_a_resting_animal() -> np.ndarray:
    """Animal 0 rests at x = 100; animal 1 walks in from the right at 2 px/frame and bursts to 6 px/frame while
    crossing it, leaving on the left. True positions (T, 2, 2)."""
    t = np.arange(T, dtype=np.float64)
    walker = np.where(t < 15, 140 - 2 * t, 110 - 6 * (t - 15))
    pos = np.zeros((T, 2, 2))
    pos[:, 0] = [100.0, 50.0]
    pos[:, 0, 0] += 0.3 * t  # drifting slowly
    pos[:, 1, 0] = walker
    pos[:, 1, 1] = 50.0
    return pos


def _swap_from(pos: np.ndarray, frame: int, pair: tuple[int, int] = (0, 1)) -> np.ndarray:
    """The tracks written by trackers fooled at ``frame``: the ``pair`` of columns exchanged from then on."""
    out = pos.copy()
    out[frame:, list(pair)] = out[frame:, list(pair[::-1])]
    return out


def test_merge_episodes_fuse_overlapping_groups_and_drop_open_ones() -> None:
    blob = np.tile(np.arange(4), (12, 1)).astype(np.int32)
    blob[2:5, [0, 1]] = 7  # 0 and 1 touch …
    blob[4:7, [1, 2]] = 8  # … 1 moves on to 2 while 0 is still there: one episode of three animals
    blob[5, 0] = UNASSIGNED  # a lost frame does not end the episode of the others
    blob[10:, [2, 3]] = 9  # still touching at the end: no exit, no episode
    assert identity.merge_episodes(blob) == [Episode((0, 1, 2), 2, 6)]


def test_a_parting_within_the_grace_does_not_end_an_episode() -> None:
    blob = np.tile(np.arange(3), (13, 1)).astype(np.int32)
    blob[2:4, [0, 1]] = 7
    blob[5:7, [0, 1]] = 7  # apart at frame 4 only
    blob[9, [1, 2]] = 8  # apart for two frames, then with another animal
    assert identity.merge_episodes(blob) == [Episode((0, 1), 2, 3), Episode((0, 1), 5, 6), Episode((1, 2), 9, 9)]
    assert identity.merge_episodes(blob, grace=1) == [Episode((0, 1), 2, 6), Episode((1, 2), 9, 9)]
    assert identity.merge_episodes(blob, grace=2) == [Episode((0, 1, 2), 2, 9)]


@pytest.mark.parametrize("parted", [17, 19, 21])
def test_a_swap_after_a_one_frame_parting_is_judged_across_the_whole_touch(parted: int) -> None:
    """The blob of two touching animals splits for one frame (a flicker of the foreground) and the trackers
    exchange animals just after it: judged as two episodes, the first one's exit motion would hold the exchange
    itself; judged as one, the animals' motion before and after the whole touch undoes it."""
    truth = _burst_past_a_resting_animal()
    tracked = _swap_from(truth, parted + 1)
    blob = _blobs(2, (0, 1))
    blob[parted] = [0, 1]
    assert identity.correct_episodes(tracked, blob, np.zeros((T, 2), np.uint8), FLAG_CORRECTED) == 1
    np.testing.assert_allclose(tracked[25:], truth[25:])


def test_bridge_cost_is_zero_for_steady_motion_and_grows_with_a_turn() -> None:
    p0, v = np.array([0.0, 0.0]), np.array([2.0, 1.0])
    steady = identity.bridge_cost(p0, v, p0 + 10 * v, v, 10.0)
    turned = identity.bridge_cost(p0, v, p0 + 10 * v, -v, 10.0)
    assert abs(steady) < 1e-9 < turned


def test_a_swap_inside_an_episode_is_undone_and_flagged() -> None:
    truth = _burst_past_a_resting_animal()
    tracked = _swap_from(truth, 20)
    blob = _blobs(2, (0, 1))
    flags = np.where(blob == 99, FLAG_MERGED, 0).astype(np.uint8)
    confidence = np.tile(np.array([0.1, 0.9], np.float32), (T, 1))
    assert identity.correct_episodes(tracked, blob, flags, FLAG_CORRECTED, (confidence,)) == 1
    np.testing.assert_allclose(tracked[25:], truth[25:])  # apart again: right animal in each column
    assert (flags[TOUCH] & FLAG_CORRECTED).all() and not (flags[25:] & FLAG_CORRECTED).any()
    assert (confidence[25:, 0] == 0.9).all()  # the other arrays follow their animals


def test_right_identities_are_left_alone() -> None:
    truth = _burst_past_a_resting_animal()
    tracked = truth.copy()
    blob = _blobs(2, (0, 1))
    flags = np.zeros((T, 2), np.uint8)
    assert identity.correct_episodes(tracked, blob, flags, FLAG_CORRECTED) == 0
    np.testing.assert_array_equal(tracked, truth)
    assert not flags.any()


def _resting_pair_leaving_at(exits: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Two resting animals at x = 100 and 110 touch during TOUCH and rest at ``exits`` afterwards (as tracked)."""
    tracked = np.zeros((T, 2, 2))
    tracked[:, 0], tracked[:, 1] = [100.0, 50.0], [110.0, 50.0]
    tracked[TOUCH] = [105.0, 50.0]
    tracked[25:] = exits
    return tracked, _blobs(2, (0, 1))


def test_a_slight_motion_preference_decides_and_a_tie_does_not() -> None:
    """Motion decides a two-animal episode however small its preference (here 1.6 %); where both labellings cost
    the same the tracker's stands."""
    slight, blob = _resting_pair_leaving_at([(105.2, 40.0), (104.8, 60.0)])  # swapped is a little shorter
    flags = np.zeros((T, 2), np.uint8)
    assert identity.correct_episodes(slight, blob, flags, FLAG_CORRECTED) == 1
    np.testing.assert_allclose(slight[25:], np.broadcast_to([[104.8, 60.0], [105.2, 40.0]], (T - 25, 2, 2)))
    tie, blob = _resting_pair_leaving_at([(105.0, 40.0), (105.0, 60.0)])
    assert identity.correct_episodes(tie, blob, np.zeros((T, 2), np.uint8), FLAG_CORRECTED) == 0
    np.testing.assert_allclose(tie[25:], np.broadcast_to([[105.0, 40.0], [105.0, 60.0]], (T - 25, 2, 2)))


def test_piles_of_three_are_left_to_the_tracker() -> None:
    """Motion alone cannot rank the labellings of three or more animals; such episodes are not judged."""
    truth = np.concatenate([_burst_past_a_resting_animal(), np.zeros((T, 1, 2))], axis=1)
    truth[:, 2] = [100.0, 60.0]  # a third animal resting against the first
    tracked = _swap_from(truth, 20)
    blob = np.tile(np.arange(3), (T, 1)).astype(np.int32)
    blob[TOUCH] = 99
    flags = np.zeros((T, 3), np.uint8)
    assert identity.correct_episodes(tracked, blob, flags, FLAG_CORRECTED, max_animals=2) == 0
    assert identity.correct_episodes(tracked, blob, flags, FLAG_CORRECTED, max_animals=3) == 1
    np.testing.assert_allclose(tracked[25:], truth[25:])


def test_backward_pass_through_reversed_views() -> None:
    """track_chunk hands the backward pass over as reversed views; the correction must land in the arrays."""
    truth = _burst_past_a_resting_animal()[::-1].copy()  # the same story told backward in time
    tracked = _swap_from(truth[::-1], 20)[::-1].copy()
    blob = _blobs(2, (0, 1))
    flags = np.zeros((T, 2), np.uint8)
    done = slice(T - 1, None, -1)
    assert identity.correct_episodes(tracked[done], blob[done], flags[done], FLAG_CORRECTED) == 1
    np.testing.assert_allclose(tracked[:15], truth[:15])


def test_later_episodes_follow_the_exchanged_columns() -> None:
    """After a correction the trackers' data live in other columns; a later episode must find them there."""
    truth = np.concatenate([_burst_past_a_resting_animal(), np.zeros((T, 1, 2))], axis=1)
    truth[:, 2] = np.stack([2 + 0.2 * np.arange(T), np.full(T, 50.0)], axis=1)  # rests on the walker's path
    tracked = _swap_from(_swap_from(truth, 20), 32, (0, 2))  # tracker 0, fooled onto the walker, is fooled again
    blob = np.tile(np.arange(3), (T, 1)).astype(np.int32)
    blob[TOUCH, [0, 1]] = 99
    blob[29:35, [0, 2]] = 98  # the walker (tracker 0 by then) crosses animal 2 at frame ~32
    flags = np.zeros((T, 3), np.uint8)
    assert identity.correct_episodes(tracked, blob, flags, FLAG_CORRECTED) == 2
    np.testing.assert_allclose(tracked[35:], truth[35:])


# -- fast paths against their definitions ----------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 3, 4])
def test_binary_opening_matches_scipy(size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(20):
        mask = ndimage.binary_dilation(rng.random((37, 41)) > 0.93, iterations=int(rng.integers(1, 3)))
        expected = ndimage.binary_opening(mask, structure=np.ones((size, size), bool))
        np.testing.assert_array_equal(binary_opening(mask, size), expected)


def test_peak_and_psr_matches_its_definition() -> None:
    rng = np.random.default_rng(3)
    response = rng.normal(size=(4, 32, 32)).astype(np.float32)
    response[np.arange(4), [0, 5, 16, 31], [31, 16, 0, 7]] += 9.0  # peaks at the edges and inside
    offset, psr = peak_and_psr(response, exclude=5)
    for i in range(4):
        py, px = np.unravel_index(np.argmax(response[i]), response[i].shape)
        assert offset[i] == pytest.approx([px - 16, py - 16], abs=0.5)
        yy, xx = np.ogrid[:32, :32]
        lobe = response[i][(np.abs(yy - py) > 5) | (np.abs(xx - px) > 5)].astype(np.float64)
        assert psr[i] == pytest.approx((response[i, py, px] - lobe.mean()) / lobe.std(), rel=1e-5)


def test_an_episode_the_shapes_held_apart_is_left_to_the_tracker() -> None:
    """Motion would exchange the two tracks of this episode; where the tracker placed both animals by their own
    shapes in every frame of it, its labelling stands, and one frame placed otherwise hands it back to motion."""
    truth = _burst_past_a_resting_animal()
    settled = np.zeros((T, 2), bool)
    settled[TOUCH] = True
    tracked = _swap_from(truth, 20)
    assert identity.correct_episodes(tracked, _blobs(2, (0, 1)), np.zeros((T, 2), np.uint8), FLAG_CORRECTED,
                                     settled=settled) == 0  # fmt: skip
    np.testing.assert_array_equal(tracked, _swap_from(truth, 20))
    settled[20, 1] = False
    assert identity.correct_episodes(tracked, _blobs(2, (0, 1)), np.zeros((T, 2), np.uint8), FLAG_CORRECTED,
                                     settled=settled) == 1  # fmt: skip
    np.testing.assert_allclose(tracked[25:], truth[25:])


# -- elongated animals: a shared blob split by each animal's own shape ----------------------------------------


def _thin_bars(t: int) -> tuple[np.ndarray, np.ndarray]:
    """Foreground of two 40 × 3 px bars on adjacent rows passing each other at 0.5 px/frame (A rightwards on rows
    79–81, B leftwards on rows 82–84; one blob from frame 20 to 99), and their true centres."""
    diff = np.zeros((160, 160), np.float32)
    a, b = 40 + t // 2, 100 - t // 2
    diff[79:82, a - 20 : a + 20] = 150.0
    diff[82:85, b - 20 : b + 20] = 150.0
    return diff, np.array([[a - 0.5, 80.0], [b - 0.5, 83.0]])


def test_split_by_shapes_keeps_each_body_whole_where_the_nearest_centre_cuts_it() -> None:
    diff, truth = _thin_bars(30)  # half overlapping: a blob 60 px long
    blobs = find_blobs(diff, 10.0, min_area=4)
    assert len(blobs) == 1
    x, y = blobs.pixels(0)
    weights = diff[y, x]
    rows, cols = np.nonzero(_thin_bars(28)[0])  # the bars 1 px back, each moved on by its velocity
    pixels, upper = np.stack([cols, rows], axis=1).astype(np.float64), rows <= 81
    shapes = [pixels[upper] + [1.0, 0.0], pixels[~upper] - [1.0, 0.0]]
    split = identity.split_by_shapes(x, y, weights, shapes, np.full(2, 24.0))
    assert split is not None
    np.testing.assert_allclose(split[0], truth, atol=1e-9)
    assert [len(p) for p in split[1]] == [120, 120]
    # The nearest-centre rule, even from the true centres, gives each bar's far end to the other animal.
    cell = identity.nearest_centre(x, y, truth, np.ones(2))
    assert (cell[y <= 81] == 1).any() and (cell[y >= 82] == 0).any()
    # A shape that no longer explains the blob (the animal went elsewhere) leaves the split to the caller.
    assert identity.split_by_shapes(x, y, weights, [shapes[0], shapes[1] + [0.0, 40.0]], np.full(2, 24.0)) is None


def test_split_by_shapes_gives_no_animal_much_more_than_its_own_area() -> None:
    # A worm lies still along y (x 48-51); another crawls along x over it, and its head (x 52-63) is now past the
    # first worm's body: nearer that body than its own shape of the frame before, which ended at x = 46.
    still = [(x, y) for x in range(48, 52) for y in range(20, 80)]
    crawler = [(x, y) for x in range(10, 64) for y in range(48, 52)]
    points = np.array(sorted(set(still) | set(crawler)), np.float64)
    x, y, weights = points[:, 0], points[:, 1], np.ones(len(points))
    shapes = [np.array(still, np.float64), np.array([(x, y) for x in range(10, 47) for y in range(48, 52)], np.float64)]
    own = np.array([len(still), len(crawler)], np.float64)
    uncapped = identity.split_by_shapes(x, y, weights, shapes, np.full(2, 24.0))
    capped = identity.split_by_shapes(x, y, weights, shapes, np.full(2, 24.0), 1.1 * own)
    assert uncapped is not None and capped is not None
    assert len(uncapped[1][0]) > 1.1 * own[0]  # the nearest shape gives the still worm the crawler's head
    assert len(capped[1][0]) <= 1.1 * own[0] and sum(len(p) for p in capped[1]) == len(points)
    crawler_centre = np.array([36.5, 49.5])  # its share moves towards the whole crawler
    assert np.linalg.norm(capped[0][1] - crawler_centre) < np.linalg.norm(uncapped[0][1] - crawler_centre)
    # The pixels given back are those the crawler's shape is least farther from than the still worm's.
    given = {tuple(p) for p in capped[1][1]} - {tuple(p) for p in uncapped[1][1]}
    assert given and all(p[0] >= 47 for p in given)
    # Shares within their caps are untouched.
    same = identity.split_by_shapes(x, y, weights, shapes, np.full(2, 24.0), 2.0 * own)
    assert same is not None
    np.testing.assert_array_equal(same[0], uncapped[0])


def _track_drawn(draw: Callable[[int], tuple[np.ndarray, np.ndarray]], scene: Scene,
                 frames: int) -> Iterator[tuple[FrameResult, np.ndarray]]:  # fmt: skip
    """Track the foreground ``draw(t)`` -> (diff, true centres) draws for t in [0, frames), started on the true
    centres with an untrained net; yields each later frame's result with its true centres."""
    import torch

    from udmt.model import FeatureNet

    def observe(t: int) -> tuple[Observation, np.ndarray]:
        d, true = draw(t)
        return Observation(t, (200 - d).astype(np.uint8), d, find_blobs(d, 10.0, min_area=4)), true

    first, truth = observe(0)
    torch.manual_seed(0)
    tracker = Tracker(scene, FeatureNet().eval(), Params(), truth)
    tracker.start(first)
    for t in range(1, frames):
        obs, true = observe(t)
        yield tracker.step(obs), true


def _drawn_scene(diff: np.ndarray, area: float, length: float) -> Scene:
    return Scene(factor=1, background=np.full(diff.shape, 200.0, np.float32), polarity=-1, noise=1.0,
                 threshold=10.0, animal_area=area, body_length=length, n_animals=2, animals_seen=2)


def test_thin_animals_passing_side_by_side_keep_their_places() -> None:
    """Two worms crawl past each other, touching for 80 frames: split by their shapes, each tracker stays on its
    own worm, exactly; a nearest-centre split would cut the pair's blob across both worms and swap them."""
    diff = _thin_bars(0)[0]
    scene = _drawn_scene(diff, 120.0, 40.0)
    assert scene.elongated and not _mouse_scene(diff, 2).elongated
    touching = 0
    for result, true in _track_drawn(_thin_bars, scene, 121):
        np.testing.assert_allclose(result.position, true, atol=1e-6)
        merged = result.flags == FLAG_MERGED
        np.testing.assert_array_equal(result.settled, merged)  # placed by shape while touching, moving slowly
        touching += merged.all()
    assert touching >= 70


def _mouse_passing_a_resting_one(t: int) -> tuple[np.ndarray, np.ndarray]:
    """Foreground of two mouse-like ellipses (40 × 14 px): one resting across the frame at (60, 60), one walking
    down past its right end at 1 px/frame, the two in a T for about 40 frames; and their true centres."""
    yy, xx = np.mgrid[0:120, 0:160]
    walker = (84.0, 10.0 + t)
    bodies = np.zeros((120, 160), bool)
    for (cx, cy), (cos, sin) in zip([(60.0, 60.0), walker], [(1.0, 0.0), (0.0, 1.0)]):
        dx, dy = xx - cx, yy - cy
        bodies |= ((dx * cos + dy * sin) / 20.0) ** 2 + ((dy * cos - dx * sin) / 7.0) ** 2 <= 1
    return np.where(bodies, 50.0, 0.0).astype(np.float32), np.array([(60.0, 60.0), walker])


def test_principal_axis_of_a_body_and_of_spots_without_one() -> None:
    yy, xx = np.mgrid[0:80, 0:80]
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    dx, dy = xx - 40.0, yy - 40.0
    y, x = np.nonzero(((dx * c + dy * s) / 20.0) ** 2 + ((dy * c - dx * s) / 7.0) ** 2 <= 1)
    assert np.degrees(principal_axis(x, y, np.ones(len(x)))) == pytest.approx(30.0, abs=1.0)
    y, x = np.nonzero(dx**2 + dy**2 <= 100)
    assert np.isnan(principal_axis(x, y, np.ones(len(x))))  # a round spot
    assert np.isnan(principal_axis(np.array([3]), np.array([4]), np.ones(1)))  # a point
    assert np.isnan(principal_axis(x, y, np.zeros(len(x))))  # no weight


def test_a_mouse_walking_past_a_resting_one_is_placed_on_its_own_body() -> None:
    """In the T the two mice form, each tracker keeps to its own body's centre (within 1 px; a k-means split of
    the T is 3–4 px off, ``test_bodies_lying_across_each_other_keep_their_centres_and_axes``)."""
    scene = _drawn_scene(_mouse_passing_a_resting_one(0)[0], float(np.pi * 20 * 7), 40.0)
    assert not scene.elongated
    touching = 0
    for result, true in _track_drawn(_mouse_passing_a_resting_one, scene, 101):
        if (result.flags == FLAG_MERGED).all():
            touching += 1
            np.testing.assert_allclose(result.position, true, atol=1.0)
    assert touching >= 30


@pytest.mark.parametrize("scenario", ["mice", "worms"])
def test_kernel_filters_track_like_the_torch_reference(track_with: Callable[..., ChunkTracks], scenario: str) -> None:
    """The C++ filter path and the torch definition give the same trajectories (an untrained net suffices)."""
    fast, reference = track_with("kernels", scenario), track_with("reference", scenario)
    np.testing.assert_allclose(fast.position, reference.position, atol=1e-3)
    np.testing.assert_allclose(fast.confidence, reference.confidence, atol=1e-4)  # PSR: the responses agree
    np.testing.assert_array_equal(fast.flags, reference.flags)


# -- animals of different sizes (a rat among mice) ---------------------------------------------------------


def _rat_and_mice() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Foreground evidence of a rat (an ellipse of three mouse areas) at (60, 60) and three mice (discs of
    radius 6, area ≈ 113 px²) elsewhere, with their centres."""
    yy, xx = np.mgrid[0:120, 0:160]
    diff = np.zeros((120, 160), np.float32)
    diff[((xx - 60) / 19.0) ** 2 + ((yy - 60) / 6.0) ** 2 <= 1] = 50.0
    mice = [(95.0, 60.0), (130.0, 20.0), (30.0, 100.0)]
    for cx, cy in mice:
        diff[(xx - cx) ** 2 + (yy - cy) ** 2 <= 36] = 50.0
    return diff, [(60.0, 60.0), *mice]


def test_a_large_animal_takes_its_blobs_extra_units() -> None:
    """A mouse expected at the rat's rim goes to its own blob nearby, not into a 'free slot' of the rat's blob."""
    diff, centres = _rat_and_mice()
    blobs = find_blobs(diff, 10.0, min_area=4)
    rat_blob, mouse_blob = (int(blobs.labels[int(y), int(x)]) - 1 for x, y in centres[:2])
    expected = np.array([[60.0, 60.0], [78.0, 60.0]])  # the mouse's prediction lies inside the rat's blob
    gates = identity.Gates(max_jump=np.full(2, 60.0), slot_penalty=6.0, extra_slot_penalty=20.0)
    area = float(np.pi * 36)
    unsized = identity.assign_to_blobs(expected, blobs, area, gates)
    sized = identity.assign_to_blobs(expected, blobs, area, gates, units=np.array([3, 1]))
    assert unsized.tolist() == [rat_blob, rat_blob]  # without sizes the rat's blob offers three slots
    assert sized.tolist() == [rat_blob, mouse_blob]


def test_an_animal_in_a_shared_blob_stays_there_rather_than_take_a_fragment() -> None:
    """Two animals in one blob and, beside them, a piece of an animal (a fish's head beyond its thin body): the
    second slot of the shared blob beats the piece, which is cheaper by distance alone; an animal with nothing
    else near still takes a piece."""
    yy, xx = np.mgrid[0:80, 0:120]
    diff = np.zeros((80, 120), np.float32)
    for cx, cy, r in [(40, 40, 6), (50, 40, 6), (52, 51, 2), (100, 20, 2)]:  # a pair, two pieces
        diff[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = 50.0
    blobs = find_blobs(diff, 10.0, min_area=4)
    shared, piece, far_piece = (int(blobs.labels[y, x]) - 1 for x, y in [(45, 40), (52, 51), (100, 20)])
    expected = np.array([[40.0, 40.0], [50.0, 44.0], [97.0, 22.0]])
    area = float(np.pi * 36)
    whole = blobs.areas >= 0.5 * area
    plain = identity.Gates(max_jump=np.full(3, 60.0), slot_penalty=6.0, extra_slot_penalty=20.0)
    costly = identity.Gates(max_jump=np.full(3, 60.0), slot_penalty=6.0, extra_slot_penalty=20.0, fragment_penalty=10.0)
    assert identity.assign_to_blobs(expected, blobs, area, plain, whole=whole).tolist() == [shared, piece, far_piece]
    assert identity.assign_to_blobs(expected, blobs, area, costly, whole=whole).tolist() == [shared, shared, far_piece]


def test_the_start_puts_one_animal_in_each_blob_and_measures_the_rat() -> None:
    diff, centres = _rat_and_mice()
    blobs = find_blobs(diff, 10.0, min_area=4)
    scene = Scene(factor=1, background=np.zeros_like(diff), polarity=1, noise=1.0, threshold=10.0,
                  animal_area=float(np.pi * 36), body_length=12.0, n_animals=4, animals_seen=6)
    obs = Observation(0, np.zeros(diff.shape, np.uint8), diff, blobs)
    placed = place_animals(obs, scene)
    got = sorted(map(tuple, np.round(placed).astype(int).tolist()))
    assert got == sorted((int(x), int(y)) for x, y in centres)  # not three animals in the rat's blob
    units = _sizes(obs, placed, scene)
    assert sorted(units.tolist()) == [1, 1, 1, 3]


def test_an_animal_of_ordinary_size_counts_as_one() -> None:
    """A mouse whose blob is 1.55 mouse areas (within what one animal can be) is not taken for a large animal."""
    diff = np.zeros((60, 60), np.float32)
    diff[20:40, 20:40] = 50.0  # 400 px² blob
    blobs = find_blobs(diff, 10.0, min_area=4)
    scene = Scene(factor=1, background=np.zeros_like(diff), polarity=1, noise=1.0, threshold=10.0,
                  animal_area=400 / 1.55, body_length=20.0, n_animals=1, animals_seen=1)
    obs = Observation(0, np.zeros(diff.shape, np.uint8), diff, blobs)
    assert _sizes(obs, np.array([[30.0, 30.0]]), scene).tolist() == [1]


# -- two trackers on one animal, another animal unclaimed ----------------------------------------------------


def _mouse_scene(diff: np.ndarray, n: int) -> Scene:
    return Scene(factor=1, background=np.full(diff.shape, 200.0, np.float32), polarity=-1, noise=1.0,
                 threshold=10.0, animal_area=float(np.pi * 36), body_length=12.0, n_animals=n, animals_seen=n)


def test_a_surplus_tracker_and_an_unclaimed_animal_are_found() -> None:
    diff, centres = _rat_and_mice()
    blobs = find_blobs(diff, 10.0, min_area=4)
    rat, first, second, third = (int(blobs.labels[int(y), int(x)]) - 1 for x, y in centres)
    area, units, whole = float(np.pi * 36), np.array([3, 1, 1, 1]), np.ones(len(blobs), bool)
    # Mouse 1 followed the rat: the rat's blob holds 4 units of 3, the first mouse's blob nobody.
    found = identity.surplus_and_orphan(np.array([rat, rat, second, third]), blobs, area, units, whole)
    assert found is not None and found[0].tolist() == [0, 1] and found[1] == first
    assert identity.surplus_and_orphan(np.array([rat, first, second, third]), blobs, area, units, whole) is None
    # An unclaimed blob with no crowded one (a mouse lost elsewhere) is not this error, nor is a blob too small.
    assert identity.surplus_and_orphan(np.array([rat, -1, second, third]), blobs, area, units, whole) is None
    small = np.ones(len(blobs), bool)
    small[first] = False
    assert identity.surplus_and_orphan(np.array([rat, rat, second, third]), blobs, area, units, small) is None


def test_a_tracker_on_a_fragment_beside_a_tracked_animal_is_misplaced() -> None:
    """A fin cut off a fish's blob holds the second tracker of that fish while another fish has none: the tracker
    on the fragment is the misplaced one (without the fish left alone, a fragment's tracker is not an error)."""
    yy, xx = np.mgrid[0:120, 0:160]
    diff = np.zeros((120, 160), np.float32)
    for cx, cy in [(50.0, 60.0), (120.0, 60.0)]:
        diff[(xx - cx) ** 2 + (yy - cy) ** 2 <= 36] = 150.0
    diff[58:62, 60:64] = 150.0  # a 16 px² fin, apart from the first fish's 113 px² blob
    blobs = find_blobs(diff, 10.0, min_area=4)
    fish, fin, alone = (int(blobs.labels[y, x]) - 1 for x, y in [(50, 60), (61, 60), (120, 60)])
    area, units = float(np.pi * 36), np.ones(2, int)
    whole = blobs.areas >= 0.5 * area
    assert whole.tolist().count(False) == 1 and not whole[fin]
    found = identity.surplus_and_orphan(np.array([fish, fin]), blobs, area, units, whole)
    assert found is not None and found[0].tolist() == [1] and found[1] == alone
    assert identity.surplus_and_orphan(np.array([fish, alone]), blobs, area, units, whole) is None


def test_a_tracker_stranded_on_another_animal_moves_to_the_unclaimed_one() -> None:
    """Two trackers start on mouse A, mouse B (out of one frame's reach) has none: after STRANDED_FRAMES frames
    the surplus tracker moves to B, flagged corrected, and both then stay where they are."""
    import torch

    from udmt.model import FeatureNet
    from udmt.params import Params

    yy, xx = np.mgrid[0:120, 0:160]
    diff = np.zeros((120, 160), np.float32)
    for cx, cy in [(50.0, 60.0), (110.0, 60.0)]:
        diff[(xx - cx) ** 2 + (yy - cy) ** 2 <= 36] = 150.0
    blobs = find_blobs(diff, 10.0, min_area=4)
    obs = Observation(0, (200 - diff).astype(np.uint8), diff, blobs)
    torch.manual_seed(0)
    tracker = Tracker(_mouse_scene(diff, 2), FeatureNet().eval(), Params(), np.array([[49.0, 60.0], [51.0, 60.0]]))
    tracker.start(obs)
    results = [tracker.step(obs) for _ in range(STRANDED_FRAMES + 2)]
    for r in results[: STRANDED_FRAMES - 1]:
        assert (np.abs(r.position[:, 0] - 50.0) < 3).all() and not (r.flags & FLAG_CORRECTED).any()
    moved = results[STRANDED_FRAMES - 1]
    assert sorted(np.round(moved.position[:, 0]).tolist()) == [50.0, 110.0]
    assert sorted(moved.flags.tolist()) == [FLAG_REFINED, FLAG_REFINED | FLAG_CORRECTED]
    for r in results[STRANDED_FRAMES:]:
        np.testing.assert_allclose(r.position, moved.position, atol=0.5)
        assert (r.flags == FLAG_REFINED).all()


def test_a_large_animals_tracker_on_a_small_animal_is_found() -> None:
    diff, centres = _rat_and_mice()
    blobs = find_blobs(diff, 10.0, min_area=4)
    rat, first, second, third = (int(blobs.labels[int(y), int(x)]) - 1 for x, y in centres)
    area, units = float(np.pi * 36), np.array([3, 1, 1, 1])
    # The rat's tracker ended on the first mouse, the first mouse's tracker on the rat (or nowhere).
    swapped = np.array([first, rat, second, third])
    assert identity.large_on_small(swapped, blobs, area, units) == (0, rat)
    assert identity.large_on_small(np.array([first, -1, second, third]), blobs, area, units) == (0, rat)
    assert identity.large_on_small(np.array([rat, first, second, third]), blobs, area, units) is None
    assert identity.large_on_small(swapped, blobs, area, np.array([2, 1, 1, 1])) == (0, rat)
    # No blob can hold an animal of four mice: nothing to repair.
    assert identity.large_on_small(swapped, blobs, area, np.array([4, 1, 1, 1])) is None


def test_a_large_animals_tracker_and_a_small_ones_exchange_their_animals() -> None:
    """The rat's tracker starts on a mouse and that mouse's tracker on the rat: after STRANDED_FRAMES frames the
    two exchange animals, flagged corrected, and stay there."""
    import torch

    from udmt.model import FeatureNet

    diff, centres = _rat_and_mice()
    blobs = find_blobs(diff, 10.0, min_area=4)
    obs = Observation(0, (200 - diff).astype(np.uint8), diff, blobs)
    torch.manual_seed(0)
    rat, mouse, *others = centres
    tracker = Tracker(_mouse_scene(diff, 4), FeatureNet().eval(), Params(), np.array([mouse, rat, *others]))
    tracker.start(obs)
    tracker.units = np.array([3, 1, 1, 1])
    results = [tracker.step(obs) for _ in range(STRANDED_FRAMES + 2)]
    for r in results[: STRANDED_FRAMES - 1]:
        assert not (r.flags & FLAG_CORRECTED).any()
    exchanged = results[STRANDED_FRAMES - 1]
    np.testing.assert_allclose(exchanged.position[:2], [rat, mouse], atol=0.5)
    assert (exchanged.flags[:2] & FLAG_CORRECTED).all() and not (exchanged.flags[2:] & FLAG_CORRECTED).any()
    for r in results[STRANDED_FRAMES:]:
        np.testing.assert_allclose(r.position, exchanged.position, atol=0.5)
        assert not (r.flags & FLAG_CORRECTED).any()


@pytest.mark.parametrize("frames", [1, 2, 7, 32])
def test_background_quartiles_are_numpys_percentiles(frames: int) -> None:
    samples = np.random.default_rng(frames).integers(0, 256, (frames, 37, 53)).astype(np.float32)
    np.testing.assert_allclose(quartiles(samples), np.percentile(samples, [25, 50, 75], axis=0), rtol=0, atol=1e-4)


def _crowded_frame(rng: np.random.Generator, length: float, width: float) -> np.ndarray:
    """Foreground evidence of ten ellipses: three apart, the others in piles of three and four, and specks of
    noise."""
    diff = np.zeros((400, 400), np.float32)
    yy, xx = np.mgrid[:400, :400]
    centres = [(60.0, 60.0), (200.0, 60.0), (340.0, 60.0)]
    for cx, cy, count in ((100.0, 250.0, 3), (280.0, 250.0, 4)):
        centres += [(cx + rng.uniform(-0.3, 0.3) * length, cy + rng.uniform(-0.3, 0.3) * length) for _ in range(count)]
    for cx, cy in centres:
        angle = rng.uniform(0, np.pi)
        u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
        v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
        diff[(u / (length / 2)) ** 2 + (v / (width / 2)) ** 2 <= 1] = 50.0
    for x, y in rng.integers(0, 398, (8, 2)):
        diff[y : y + 2, x : x + 2] = 50.0
    return diff


def test_one_animals_size_is_found_when_the_animals_are_never_all_apart() -> None:
    rng = np.random.default_rng(0)
    per_frame = [find_blobs(_crowded_frame(rng, 40.0, 18.0), 10.0, min_area=4) for _ in range(8)]
    area, length = _single_animal_stats(per_frame, 10, Params())
    assert area == pytest.approx(np.pi / 4 * 40 * 18, rel=0.1)
    assert length == pytest.approx(40.0, rel=0.1)


@needs_real
def test_the_zebrafish_arena_is_worked_on_at_the_resolution_its_fish_ask_for() -> None:
    """3712² frames of ten thin fish: at the first, coarse guess (7×) a fish shrinks to 50 px; refining by at most
    half a step at a time still settles where a fish is about ``target_body_px`` long (3×, 72 px)."""
    with VideoReader(REAL / "dreem_ten_zfish" / "ten_zfish.mp4") as reader:
        scene = estimate_scene(reader, 10, Params())
    assert scene.factor == 3
    assert 60 < scene.body_length < 85
    assert abs(scene.body_length / scene.factor - Params().target_body_px) < 0.5 * Params().target_body_px
