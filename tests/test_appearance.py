"""The identity classifier's pieces: body axes, aligned crops (against a scipy reference), and learning the
individuals of a real synthetic video from its global fragments."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from udmt import appearance, individuals
from udmt.params import Params
from udmt.scene import Observation, Scene, estimate_scene, find_blobs
from udmt.video import VideoReader


def _scene(factor: int, shape: tuple[int, int], background: np.ndarray | None = None) -> Scene:
    h, w = shape[0] // factor, shape[1] // factor
    floor = np.full((h, w), 200.0, np.float32) if background is None else background
    return Scene(factor=factor, background=floor, polarity=-1, noise=2.0, threshold=20.0,
                 animal_area=300.0 / factor**2, body_length=40.0, n_animals=1, animals_seen=1)


@pytest.mark.parametrize("degrees", [0.0, 30.0, 95.0, -60.0])
def test_body_axis_of_an_ellipse(degrees: float) -> None:
    yy, xx = np.mgrid[0:120, 0:120].astype(np.float64)
    a = np.deg2rad(degrees)
    u = (xx - 60) * np.cos(a) + (yy - 55) * np.sin(a)
    v = -(xx - 60) * np.sin(a) + (yy - 55) * np.cos(a)
    diff = np.where((u / 30) ** 2 + (v / 10) ** 2 <= 1, 80.0, 0.0).astype(np.float32)
    blobs = find_blobs(diff, 20.0, 10.0, opening=0)
    angle = appearance.body_axes(blobs, diff, np.array([0]))[0]
    error = (angle - a + np.pi / 2) % np.pi - np.pi / 2  # the axis has no head or tail
    assert abs(np.rad2deg(error)) < 1.0


@pytest.mark.parametrize("factor", [1, 2])
def test_aligned_crops_match_a_scipy_reference(factor: int) -> None:
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, (96, 128)).astype(np.uint8)
    background = rng.uniform(100, 200, (96 // factor, 128 // factor)).astype(np.float32)
    scene = _scene(factor, frame.shape, background)
    centres = np.array([[40.3, 50.7], [100.0, 20.0], [2.0, 90.0]])  # the last two reach over the border
    angles = np.array([0.3, -1.2, 2.0])
    crops = appearance.aligned_crops(frame, scene, centres, angles).numpy()

    side = appearance.CROP_BODY_LENGTHS * scene.body_length
    u = (np.arange(appearance.CROP) + 0.5) / appearance.CROP * side - side / 2
    for crop, (cx, cy), a in zip(crops, centres, angles):
        x = cx + u[None, :] * np.cos(a) - u[:, None] * np.sin(a)
        y = cy + u[None, :] * np.sin(a) + u[:, None] * np.cos(a)
        pixels = ndimage.map_coordinates(frame.astype(np.float64), [y, x], order=1, mode="nearest")
        xs, ys = (x + 0.5) / factor - 0.5, (y + 0.5) / factor - 0.5
        floor = ndimage.map_coordinates(background.astype(np.float64), [ys, xs], order=1, mode="nearest")
        np.testing.assert_allclose(crop, (pixels - floor) * -1 / 64.0, atol=2e-4)


def test_crops_read_only_the_frame_region_they_convert() -> None:
    """Samples inside the frame, across its border and wholly outside it (clamped to the border) read nothing
    beyond ``sampled_bounds``: with everything else poisoned by NaN they equal samples of the whole frame."""
    frame = np.random.default_rng(6).integers(0, 256, (96, 128)).astype(np.uint8)
    whole = torch.from_numpy(frame.astype(np.float32))
    for cx, cy in [(40.3, 50.7), (127.0, 95.0), (0.0, 0.0), (300.0, -200.0), (-50.0, 40.0)]:
        u = torch.linspace(-20.0, 20.0, 33, dtype=torch.float64)
        x, y = cx + u[None, :] + 0.3 * u[:, None], cy + 0.7 * u[:, None] - 0.2 * u[None, :]
        y0, y1, x0, x1 = appearance.sampled_bounds(frame.shape, x, y)
        poisoned = torch.full_like(whole, float("nan"))
        poisoned[y0:y1, x0:x1] = whole[y0:y1, x0:x1]
        grid = torch.stack([2 * x / 127 - 1, 2 * y / 95 - 1], dim=-1).float()[None]
        sample = [torch.nn.functional.grid_sample(image[None, None], grid, align_corners=True, padding_mode="border")
                  for image in (poisoned, whole)]  # fmt: skip
        assert torch.equal(sample[0], sample[1]), (cx, cy)


@pytest.mark.parametrize("factor", [1, 2])
def test_an_animal_crop_blanks_the_neighbours_but_not_the_animal(factor: int) -> None:
    """Two dark ellipses a body length apart: the crop of one keeps its pixels exactly (those of the plain
    aligned crop) and shows nothing of the other, whose pixels would otherwise fill a corner of it."""
    yy, xx = np.mgrid[0:120, 0:160]
    frame = np.full((120, 160), 200, np.uint8)
    me = ((xx - 60) / 16.0) ** 2 + ((yy - 60) / 6.0) ** 2 <= 1
    neighbour = ((xx - 96) / 16.0) ** 2 + ((yy - 78) / 6.0) ** 2 <= 1
    frame[me | neighbour] = 60
    scene = _scene(factor, frame.shape)
    luma = frame[::factor, ::factor].astype(np.float32)
    diff = scene.difference(luma)
    obs = Observation(0, luma.astype(np.uint8), diff, find_blobs(diff, 20.0, 10.0, opening=0))
    mine = int(np.argmin(np.abs(obs.blobs.centroids[:, 0] * factor - 60)))
    crop = appearance.animal_crops(frame, scene, obs, np.array([mine]))[0].numpy()
    centre = scene.to_original(obs.blobs.centroids[[mine]])
    plain = appearance.aligned_crops(frame, scene, centre, appearance.body_axes(obs.blobs, diff, np.array([mine])))
    plain = plain[0].numpy()
    assert (plain > 1.5).sum() > (crop > 1.5).sum()  # the neighbour is in view of the plain crop
    side = appearance.CROP_BODY_LENGTHS * scene.body_length
    u = (np.arange(appearance.CROP) + 0.5) / appearance.CROP * side - side / 2
    near_centre = np.hypot(u[None, :] / 12.0, u[:, None] / 4.0) <= 1  # well inside the animal's own ellipse
    np.testing.assert_array_equal(crop[near_centre], plain[near_centre])
    assert np.isclose(crop[near_centre], (200 - 60) / 64.0, atol=0.05).all()
    far = np.hypot(u[None, :], u[:, None]) >= 0.45 * side
    assert (plain[far] > 1.5).any() and not (crop[far] > 0.1).any()  # the neighbour's pixels are gone


def test_an_animal_crop_keeps_a_fragment_beside_it() -> None:
    """A fin cut off its fish (a blob of a tenth of an animal, 3 px behind the body) is part of the fish's crop;
    a whole neighbour is blanked."""
    yy, xx = np.mgrid[0:120, 0:160]
    frame = np.full((120, 160), 200, np.uint8)
    me = ((xx - 60) / 16.0) ** 2 + ((yy - 60) / 6.0) ** 2 <= 1
    fin = (np.abs(xx - 40) <= 2) & (np.abs(yy - 60) <= 2)
    neighbour = ((xx - 88) / 16.0) ** 2 + ((yy - 76) / 6.0) ** 2 <= 1
    frame[me | fin | neighbour] = 60
    scene = _scene(1, frame.shape)
    diff = scene.difference(frame.astype(np.float32))
    obs = Observation(0, frame, diff, find_blobs(diff, 20.0, 10.0, opening=0))
    assert len(obs.blobs) == 3
    mine = int(obs.blobs.labels[60, 60]) - 1
    crop = appearance.animal_crops(frame, scene, obs, np.array([mine]))[0].numpy()
    plain = appearance.aligned_crops(frame, scene, scene.to_original(obs.blobs.centroids[[mine]]),
                                     appearance.body_axes(obs.blobs, diff, np.array([mine])))[0].numpy()
    side = appearance.CROP_BODY_LENGTHS * scene.body_length
    u = (np.arange(appearance.CROP) + 0.5) / appearance.CROP * side - side / 2
    uu, vv = np.abs(u[None, :]), np.abs(u[:, None])  # the body axis may point either way
    fin_px = (np.abs(uu - 20.0) <= 1.0) & (vv <= 1.0) & (plain > 1.5)  # on the side the fin is
    neighbour_px = (np.hypot((uu - 28.0) / 12.0, (vv - 16.0) / 3.0) <= 1) & (plain > 1.5)
    assert fin_px.sum() >= 4 and neighbour_px.sum() >= 10  # both in view of the plain crop
    np.testing.assert_array_equal(crop[fin_px], plain[fin_px])  # the fin stays
    assert not (crop[neighbour_px] > 0.1).any()  # the neighbour goes


def test_a_fragment_does_not_break_a_global_fragment() -> None:
    """Two fish and a fin cut off one of them: still one blob per animal (the fin does not count); a pile of the
    two does not qualify."""
    yy, xx = np.mgrid[0:120, 0:160]
    diff = np.zeros((120, 160), np.float32)
    for cx in (50, 110):
        diff[((xx - cx) / 16.0) ** 2 + ((yy - 60) / 6.0) ** 2 <= 1] = 100.0
    diff[58:63, 26:30] = 100.0  # the fin
    scene = dataclasses.replace(_scene(1, diff.shape), n_animals=2)
    blobs = find_blobs(diff, 20.0, 10.0, opening=0)
    found = appearance.one_blob_per_animal(blobs, scene)
    assert len(blobs) == 3 and found is not None
    assert sorted(np.round(blobs.centroids[found, 0]).tolist()) == [50.0, 110.0]
    diff[55:66, 60:100] = 100.0  # bridged into one pile
    assert appearance.one_blob_per_animal(find_blobs(diff, 20.0, 10.0, opening=0), scene) is None


def test_the_individuals_of_a_video_are_learned_from_its_global_fragments(
    synth_video_factory: Callable[..., Path],
) -> None:
    """A rat and a mouse: global fragments are found, every one is named consistently with the truth, and the
    classifier tells the two apart on held-out frames."""
    scene_dir = synth_video_factory("rat-mice", n_frames=150, n_animals=2)
    params = Params(identity_steps=60, identity_windows=4)
    torch.set_num_threads(1)
    with VideoReader(scene_dir / "video.mp4") as reader:
        scene = estimate_scene(reader, 2, params)
        net, report = individuals.train_identity(reader, scene, params)
        fragments = appearance.find_global_fragments(reader, scene, params, params.identity_windows)
    assert net is not None and report.fragments == len(fragments) >= 2
    assert report.named >= 2 and report.validation_accuracy >= 0.95
    assert len(report.held_out_recall) == 2 and min(report.held_out_recall) >= 0.9 and report.look_alikes == ()
    # Whatever the fragment, the rat (the larger animal) gets the same class.
    rat_class = set()
    for fragment in fragments:
        sizes = fragment.crops.clamp(min=0).sum(dim=(2, 3)).mean(dim=0)
        probs = np.exp(net.log_probs(fragment.crops[:, int(sizes.argmax())]))
        rat_class.add(int(probs.mean(axis=0).argmax()))
    assert len(rat_class) == 1


def test_crops_are_recorded_where_the_rat_and_a_mouse_exchanged_trackers() -> None:
    """A rat (three mouse areas) and two mice, each alone in its blob: the rat's tracker (3 units) on a mouse and
    a mouse's tracker on the rat are recorded (that evidence is what undoes the exchange); a pile of three mice
    in one blob under one mouse tracker is not, as no animal of the scene is that large."""
    yy, xx = np.mgrid[0:120, 0:200]
    diff = np.zeros((120, 200), np.float32)
    diff[((xx - 40) / 20.0) ** 2 + ((yy - 60) / 7.5) ** 2 <= 1] = 60.0  # rat, ≈ 471 px² = 3 mice
    for cx in (100, 140):
        diff[(xx - cx) ** 2 + (yy - 60) ** 2 <= 50] = 60.0  # mice, ≈ 157 px²
    blobs = find_blobs(diff, 20.0, 10.0, opening=0)
    rat, first, second = (int(blobs.labels[60, x]) - 1 for x in (40, 100, 140))
    scene = Scene(factor=1, background=np.full(diff.shape, 200.0, np.float32), polarity=-1, noise=2.0,
                  threshold=20.0, animal_area=157.0, body_length=16.0, n_animals=3, animals_seen=3)
    frame = (200 - diff).astype(np.uint8)
    obs = Observation(0, frame, diff, blobs)
    exchanged = appearance.CropRecorder(scene, 0, 1)
    exchanged.record(frame, obs, owner=np.array([first, rat, second]), units=np.array([3, 1, 1]))
    assert exchanged.index[0].tolist() == [0, 1, 2]
    alone = appearance.CropRecorder(scene, 0, 1)  # the same blobs with equal animals: the rat's blob is a pile
    alone.record(frame, obs, owner=np.array([first, rat, second]), units=np.array([1, 1, 1]))
    assert alone.index[0].tolist() == [0, -1, 1]


def test_the_held_out_check_names_identities_the_net_takes_for_others() -> None:
    """Identity 2's crops are mostly named 0 (two look-alikes clustered into 0, odds and ends left to 2): its recall
    shows it, and it is reported as a look-alike of 0; identity 3 had no held-out crops."""
    truth = np.array([0] * 10 + [1] * 10 + [2] * 10)
    named = np.array([0] * 10 + [1] * 9 + [2] + [0] * 6 + [2] * 3 + [1])
    check = individuals.held_out_check(named, truth, 4)
    assert check.accuracy == pytest.approx(22 / 30)
    np.testing.assert_allclose(check.recall, [1.0, 0.9, 0.3, np.nan])
    assert check.taken_for.tolist() == [-1, 2, 0, -1]
    reported = check.reported()
    assert reported["held_out_recall"] == (1.0, 0.9, 0.3, None) and reported["look_alikes"] == ((2, 0),)
    assert check.most_confused_pair() == (0, 2) and check.accuracy_merging(0, 2) == pytest.approx(28 / 30)
    # The gate compares in float32, as it always has: 63 of 70 crops stay just under 0.9.
    assert individuals.HeldOutCheck(np.array([[63, 7], [0, 0]])).accuracy < individuals.MIN_ACCURACY


def test_merged_identities_share_their_probability_and_leave_the_others_alone() -> None:
    net = appearance.IdentityNet(3)
    prototypes = torch.randn(3, 32, generator=torch.Generator().manual_seed(0))
    net.prototypes.copy_(torch.nn.functional.normalize(prototypes, dim=1))
    crops = torch.rand((5, appearance.CROP, appearance.CROP), generator=torch.Generator().manual_seed(1))
    before = np.exp(net.log_probs(crops))
    net.merge(0, 2)
    after = np.exp(net.log_probs(crops))
    np.testing.assert_allclose(after[:, 0], after[:, 2], rtol=1e-6)
    np.testing.assert_allclose(after[:, 0] + after[:, 2], before[:, 0] + before[:, 2], rtol=1e-5)
    np.testing.assert_allclose(after[:, 1], before[:, 1], rtol=1e-5)


def _check(confusion: list[list[int]]) -> individuals.HeldOutCheck:
    return individuals.HeldOutCheck(np.array(confusion))


def test_a_net_failing_only_by_one_look_alike_pair_is_used_with_the_pair_merged() -> None:
    """Two of four animals split across two identities: merged, the net passes; a net confused all over, or one
    that passes on its own, is left as it is."""
    one_pair = _check([[50, 0, 0, 0], [0, 50, 0, 0], [0, 0, 30, 20], [0, 0, 15, 35]])
    net = appearance.IdentityNet(4)
    assert one_pair.accuracy < individuals.MIN_ACCURACY
    assert individuals._merged_look_alikes(net, one_pair) == {"merged": (2, 3), "merged_accuracy": 1.0}
    assert net.group.tolist() == [0, 1, 2, 2]
    report = individuals.IdentityReport(10, 10, 1, 0.0, one_pair.accuracy, merged=(2, 3), merged_accuracy=1.0)
    used, judged = individuals._judged(net, report)
    assert used is net and judged.used
    for confusion in ([[35, 15, 0, 0], [15, 35, 0, 0], [0, 0, 35, 15], [0, 0, 15, 35]],  # two pairs
                      [[50, 0, 0, 0], [0, 50, 0, 0], [0, 0, 48, 2], [0, 0, 2, 48]],  # passes unmerged
                      [[50, 0, 0], [0, 30, 20], [0, 15, 35]]):  # three animals: the pair is most of them
        net = appearance.IdentityNet(len(confusion))
        assert individuals._merged_look_alikes(net, _check(confusion)) == {}
        assert net.group.tolist() == list(range(len(confusion)))


def test_a_less_reliable_net_is_used_where_the_animals_are_never_all_apart() -> None:
    """Too few global fragments to train on (crowded): the individual fragments' net is used down to
    CROWDED_MIN_ACCURACY; where global fragments were found, it still needs MIN_ACCURACY."""
    crowded = individuals.IdentityReport(individuals.MIN_NAMED - 1, 0, 0, 0.0, float("nan"))
    apart = individuals.IdentityReport(15, 15, 200, 1.0, 0.57)
    assert individuals.required_accuracy(crowded) == individuals.CROWDED_MIN_ACCURACY < individuals.MIN_ACCURACY
    assert individuals.required_accuracy(apart) == individuals.MIN_ACCURACY
    report = individuals.IdentityReport(143, 143, 600, 1.0, 0.8, source="individual fragments")
    net = appearance.IdentityNet(10)
    assert individuals._judged(net, report, individuals.required_accuracy(crowded))[0] is net
    unused = (None, dataclasses.replace(report, used=False))
    assert individuals._judged(net, report, individuals.required_accuracy(apart)) == unused


def test_merged_identities_survive_the_checkpoint_and_older_checkpoints_load(tmp_path: Path) -> None:
    from udmt.model import Checkpoint, FeatureNet, load_checkpoint

    identities = appearance.IdentityNet(3)
    identities.merge(1, 2)
    path = tmp_path / "model.pt"
    Checkpoint(FeatureNet(), {}, identities).save(path)
    assert load_checkpoint(path)[0].identities.group.tolist() == [0, 1, 1]
    payload = torch.load(path, weights_only=True)
    del payload["identities"]["state"]["group"]  # as written before identities could be merged
    torch.save(payload, path)
    assert load_checkpoint(path)[0].identities.group.tolist() == [0, 1, 2]
