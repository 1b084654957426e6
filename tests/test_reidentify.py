"""Segment naming by appearance evidence (udmt.reidentify) on hand-made tracks."""

from __future__ import annotations

import numpy as np
import pytest

from udmt import reidentify
from udmt.store import FLAG_CORRECTED, FLAG_LOST, FLAG_MERGED, FLAG_REFINED


def _evidence(truth: np.ndarray, k: int, sure: float = 0.9) -> np.ndarray:
    """(T, N, K) log-probabilities that favour the true identity of each (frame, track)."""
    t, n = truth.shape
    p = np.full((t, n, k), (1 - sure) / (k - 1))
    p[np.arange(t)[:, None], np.arange(n)[None], truth] = sure
    return np.log(p).astype(np.float32)


def _touch(total: int, n: int, frames: slice, tracks: list[int]) -> np.ndarray:
    flags = np.full((total, n), FLAG_REFINED, np.uint8)
    flags[frames, tracks] = FLAG_MERGED
    return flags


def _still(total: int, n: int) -> np.ndarray:
    """Positions of n animals resting 100 px apart, (T, N, 2)."""
    position = np.zeros((total, n, 2), np.float32)
    position[:, :, 0] = 100.0 * np.arange(n)
    return position


def test_tracks_are_cut_into_clear_segments_and_touches() -> None:
    flags = _touch(40, 2, slice(10, 20), [0, 1])
    flags[30:32, 1] = FLAG_LOST
    position = _still(40, 2)
    position[14, 1] = position[14, 0]  # the two came closest at frame 14
    segments, touches = reidentify.segments_of(flags, np.full((40, 2, 2), np.nan, np.float32), position)
    assert sorted((s.track, s.first, s.stop) for s in segments) == [(0, 0, 10), (0, 20, 40), (1, 0, 10), (1, 20, 30),
                                                                    (1, 32, 40)]
    assert all(np.array_equal(s.score, [0.0, 0.0]) for s in segments)  # no evidence, no preference
    spans = sorted((t.track, t.first, t.stop, t.closest) for t in touches)
    assert spans == [(0, 10, 20, 14), (1, 10, 20, 14), (1, 30, 32, 30)]
    for t in touches:  # each touch knows the track's segments on either side
        before, after = segments[t.before], segments[t.after]
        assert before.track == after.track == t.track and before.stop == t.first and after.first == t.stop
        assert after.previous == t.before


def test_a_track_the_tracker_moved_to_another_animal_is_cut_there() -> None:
    """The tracker moved tracks 1 and 2 onto each other's animal at frame 20, both alone in their blobs before
    and after (flagged corrected there): each part is named by its own evidence, so every identity follows its
    animal; one segment per track would have given one identity to two animals' frames."""
    total = 40
    flags = np.full((total, 3), FLAG_REFINED, np.uint8)
    flags[20, 1:] |= FLAG_CORRECTED
    truth = np.tile(np.arange(3), (total, 1))
    truth[20:, 1:] = [2, 1]
    position = _still(total, 3)
    position[20:, 1:] = position[20:, 1:][:, ::-1]
    segments, touches = reidentify.segments_of(flags, _evidence(truth, 3), position)
    assert sorted((s.track, s.first, s.stop) for s in segments if s.track) == [(1, 0, 20), (1, 21, 40), (2, 0, 20),
                                                                               (2, 21, 40)]
    reidentify.name_segments(segments, 3, total)
    out, _, changes = reidentify.relabel(segments, touches, {"position": (position, np.nan)}, flags, FLAG_CORRECTED)
    assert changes == 2
    np.testing.assert_array_equal(out["position"], _still(total, 3))


def test_tracks_that_pass_close_on_separate_blobs_are_cut_there() -> None:
    """Two animals cross without their blobs merging, and the trackers exchange them at frame 20 (nothing flagged):
    cut where the tracks came nearer than ``near``, each part is named by its own evidence; left whole, each
    track's segment would hold both animals."""
    total = 40
    flags = np.full((total, 2), FLAG_REFINED, np.uint8)
    truth = np.tile(np.arange(2), (total, 1))
    truth[20:] = [1, 0]
    animals = _still(total, 2)
    animals[17:23, 1, 0] = [20.0, 14.0, 8.0, 2.0, 8.0, 14.0]  # animal 1 passes animal 0, closest at frame 20
    position = animals[np.arange(total)[:, None], truth]  # each track where the animal it is on is
    whole, _ = reidentify.segments_of(flags, _evidence(truth, 2), position)
    assert len(whole) == 2
    segments, touches = reidentify.segments_of(flags, _evidence(truth, 2), position, near=30.0)
    assert sorted((s.track, s.first, s.stop) for s in segments) == [(0, 0, 17), (0, 23, 40), (1, 0, 17), (1, 23, 40)]
    reidentify.name_segments(segments, 2, total)
    out, _, changes = reidentify.relabel(segments, touches, {"identity": (truth, -1)}, flags, FLAG_CORRECTED)
    assert changes == 2
    np.testing.assert_array_equal(out["identity"], np.tile(np.arange(2), (total, 1)))


def test_a_swap_during_a_touch_is_undone_by_the_evidence() -> None:
    total = 60
    flags = _touch(total, 2, slice(25, 35), [0, 1])
    truth = np.zeros((total, 2), int)
    truth[:, 1] = 1
    truth[30:] = truth[30:, ::-1]  # the tracker swapped the two animals inside the touch
    t = np.arange(total)
    true_x = np.stack([50 - 40 * np.abs(t - 30) / 30, 50 + 40 * np.abs(t - 30) / 30], axis=1)  # meet at frame 30
    position = np.zeros((total, 2, 2), np.float32)
    position[:, :, 0] = true_x
    position[30:] = position[30:, ::-1]
    evidence = _evidence(truth, 2)
    evidence[25:35] = np.nan  # no crops while touching
    segments, touches = reidentify.segments_of(flags, evidence, position)
    reidentify.name_segments(segments, 2, total)
    out, new_flags, changes = reidentify.relabel(segments, touches, {"position": (position, np.nan)}, flags,
                                                 FLAG_CORRECTED)
    assert changes == 2
    np.testing.assert_array_equal(out["position"][:, :, 0], true_x.astype(np.float32))
    assert (new_flags[25:35] & FLAG_CORRECTED).all() and not (new_flags[:25] & FLAG_CORRECTED).any()


def test_in_a_pile_the_swap_is_placed_where_the_exchanged_pair_met() -> None:
    """Three animals in one pile for frames 20–60; tracks 0 and 2 exchange animals where those two meet (frame
    45), while track 0 passes nearest to the bystander, track 1, at frame 28: the relabelled trajectories follow
    the animals, with the switch at 45 rather than at 28."""
    total = 80
    flags = _touch(total, 3, slice(20, 60), [0, 1, 2])
    t = np.arange(total, dtype=np.float32)
    position = np.zeros((total, 3, 2), np.float32)
    position[:, 0] = np.stack([100 + 2 * (t - 45), np.full(total, 10.0)], axis=1)  # 0 and 2 pass 20 px apart
    position[:, 2] = np.stack([100 - 2 * (t - 45), np.full(total, -10.0)], axis=1)  # at frame 45
    position[:, 1] = [500.0, 0.0]
    position[28, 1] = position[28, 0] + [0.0, 5.0]  # the bystander brushes animal 0 at frame 28
    tracked = position.copy()
    tracked[45:, [0, 2]] = position[45:, [2, 0]]  # the tracker swapped 0 and 2 where they met
    truth = np.tile([0, 1, 2], (total, 1))
    truth[45:, [0, 2]] = [2, 0]
    evidence = _evidence(truth, 3)
    evidence[20:60] = np.nan
    segments, touches = reidentify.segments_of(flags, evidence, tracked)
    assert next(x for x in touches if x.track == 0).closest == 28  # the nearest neighbour is the wrong hint
    reidentify.name_segments(segments, 3, total)
    out, _, changes = reidentify.relabel(segments, touches, {"position": (tracked, np.nan)}, flags, FLAG_CORRECTED)
    assert changes == 2
    np.testing.assert_array_equal(out["position"], position)


def test_without_evidence_the_tracker_labels_stand() -> None:
    total = 50
    flags = _touch(total, 3, slice(20, 26), [1, 2])
    segments, _ = reidentify.segments_of(flags, np.full((total, 3, 3), np.nan, np.float32), _still(total, 3))
    reidentify.name_segments(segments, 3, total)
    assert all(s.identity == s.track for s in segments)


def _crops_favouring(swapped: np.ndarray, sure: float, total: int = 40) -> np.ndarray:
    """(total, 2, 2) log-probabilities after a touch: frames where ``swapped`` favour the exchanged identities."""
    truth = np.where(swapped[:, None], [[1, 0]], [[0, 1]])
    return _evidence(truth, 2, sure=sure)


@pytest.mark.parametrize(
    ("swapped_share", "sure", "expected"),
    [(0.6, 0.55, [0, 0, 1, 1]),  # weak and split: the tracker's labels stand
     (1.0, 0.55, [0, 1, 1, 0]),  # soft but every crop agrees (two look-alike identities): the crops decide
     (1.0, 0.99, [0, 1, 1, 0])],
)
def test_evidence_overrides_the_tracker_only_when_it_is_consistent(swapped_share: float, sure: float,
                                                                   expected: list[int]) -> None:  # fmt: skip
    total = 80
    flags = _touch(total, 2, slice(38, 42), [0, 1])
    before = _evidence(np.tile([0, 1], (40, 1)), 2, sure=0.99)  # named for sure before the touch
    after = _crops_favouring(np.arange(40) < swapped_share * 40, sure)  # looks swapped afterwards
    segments, _ = reidentify.segments_of(flags, np.concatenate([before, after]), _still(total, 2))
    reidentify.name_segments(segments, 2, total)
    assert [s.identity for s in sorted(segments, key=lambda s: (s.track, s.first))] == expected


def test_identities_merged_as_look_alikes_are_left_to_motion() -> None:
    """Tracks 0 and 1 are two look-alikes the net gives one shared probability (``IdentityNet.merge``): every crop
    ties between their identities. The tie must not vote for the lower index, or the longer segment after their
    touch would be named identity 0 for sure and the two would be swapped."""
    total = 80
    flags = _touch(total, 3, slice(38, 42), [0, 1])
    flags[60:64, [0, 2]] = FLAG_MERGED  # track 0 touches track 2 later: its segment after the first touch is shorter
    evidence = np.empty((total, 3, 3), np.float32)
    evidence[:, :2] = np.log([0.45, 0.45, 0.1])
    evidence[:, 2] = np.log([0.05, 0.05, 0.9])
    segments, _ = reidentify.segments_of(flags, evidence, _still(total, 3))
    reidentify.name_segments(segments, 3, total)
    assert all(s.identity == s.track for s in segments)


def test_the_start_identities_are_a_permutation_even_where_tracks_started_near_each_other() -> None:
    """Tracks 0 and 1 start (frame 10) nearer than ``near``: no clear frame of theirs holds the start, so each takes
    its nearest segment's identity; a track with no segment at all takes the identity left over."""
    total = 30
    position = _still(total, 3)
    position[5:15, 1, 0] = 20.0  # track 1 beside track 0 around the start
    flags = np.full((total, 3), FLAG_REFINED, np.uint8)
    evidence = _evidence(np.tile([1, 0, 2], (total, 1)), 3)
    segments, _ = reidentify.segments_of(flags, evidence, position, near=30.0)
    assert not any(s.first <= 10 < s.stop for s in segments if s.track < 2)
    reidentify.name_segments(segments, 3, total)
    assert reidentify.identities_at(segments, 3, 10).tolist() == [1, 0, 2]
    assert reidentify.identities_at([s for s in segments if s.track != 0], 3, 10).tolist() == [1, 0, 2]


def test_segments_overlapping_in_time_never_share_an_identity() -> None:
    rng = np.random.default_rng(3)
    total, n = 200, 4
    flags = np.full((total, n), FLAG_REFINED, np.uint8)
    for _ in range(12):
        t = int(rng.integers(5, total - 10))
        a, b = rng.choice(n, 2, replace=False)
        flags[t : t + int(rng.integers(2, 8)), [a, b]] = FLAG_MERGED
    evidence = np.log(rng.dirichlet(np.ones(n), size=(total, n))).astype(np.float32)
    segments, touches = reidentify.segments_of(flags, evidence, rng.uniform(0, 100, (total, n, 2)))
    reidentify.name_segments(segments, n, total)
    tracks = np.tile(np.arange(n), (total, 1))
    out, new_flags, _ = reidentify.relabel(segments, touches, {"id": (tracks, -1)}, flags, 0)
    claimed = out["id"] >= 0
    for t in range(total):  # every track appears at most once per frame
        tracks = out["id"][t][claimed[t]]
        assert len(set(tracks.tolist())) == len(tracks)
    assert ((new_flags == FLAG_LOST) == ~claimed).all()


def test_a_segment_with_no_identity_free_throughout_loses_the_fewest_frames() -> None:
    """Track 0 is named identity 0 before its gap (frames 68–71) and identity 1 after it, for sure; track 1, never
    seen by the classifier, runs through. Neither identity is free for all of it: identity 1, taken for 28 of its
    frames, keeps more of it than identity 0, taken for 68."""
    total = 100
    flags = np.full((total, 2), FLAG_REFINED, np.uint8)
    flags[68:72, 0] = FLAG_LOST
    truth = np.zeros((total, 2), int)
    truth[72:, 0] = 1
    evidence = _evidence(truth, 2, sure=0.99)
    evidence[:, 1] = np.nan
    segments, touches = reidentify.segments_of(flags, evidence, _still(total, 2))
    reidentify.name_segments(segments, 2, total)
    assert [(s.track, s.identity) for s in segments] == [(0, 0), (0, 1), (1, 1)]
    tracks = np.tile(np.arange(2), (total, 1))
    out, _, _ = reidentify.relabel(segments, touches, {"track": (tracks, -1)}, flags, 0)
    assert int((out["track"] == 1).sum()) == 72


def test_short_gaps_are_interpolated_and_flagged_long_ones_stay_unknown() -> None:
    position = np.zeros((30, 1, 2), np.float32)
    position[:, 0, 0] = np.arange(30)
    position[5:8] = np.nan  # short gap
    position[12:28] = np.nan  # longer than the limit
    confidence = np.ones((30, 1), np.float32)
    flags = np.full((30, 1), FLAG_REFINED, np.uint8)
    assert reidentify.fill_gaps(position, confidence, flags, max_gap=5) == 3
    np.testing.assert_allclose(position[5:8, 0, 0], [5, 6, 7])
    assert (flags[5:8] == reidentify.FLAG_INTERPOLATED).all() and np.isnan(position[12:28]).all()
