"""udmt.kernels.label_blobs, split_blob and split_blob_shaped against their numpy/scipy references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from udmt import kernels
from udmt.kernels import reference


def random_foreground(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A mask of blobs of every shape (speckle, U-shapes that join late in raster order, large merged areas) and
    a diff that is high on some blobs only."""
    mask = ndimage.binary_dilation(rng.random((height, width)) > 0.93, iterations=int(rng.integers(0, 4)))
    mask ^= rng.random((height, width)) > 0.97
    diff = rng.normal(0.0, 3.0, (height, width)).astype(np.float32)
    return mask, diff


@settings(max_examples=80, deadline=None)
@given(height=st.integers(1, 70), width=st.integers(1, 70), min_area=st.sampled_from([0.0, 1.0, 3.0, 9.5]),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_label_blobs_equals_the_reference(height: int, width: int, min_area: float, seed: int) -> None:
    mask, diff = random_foreground(np.random.default_rng(seed), height, width)
    labels, areas, centroids, slices = kernels.label_blobs(mask, diff, 4.0, min_area)
    ref_labels, ref_areas, ref_centroids, ref_slices = reference.label_blobs(mask, diff, 4.0, min_area)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, ref_labels)  # scipy's numbering, the same blobs dropped
    np.testing.assert_array_equal(areas, ref_areas)
    np.testing.assert_array_equal(centroids, ref_centroids)  # same sums in the same order
    assert slices == ref_slices


def test_label_blobs_on_edge_cases() -> None:
    """Empty and full masks, a spiral (one component whose arms meet late), blobs touching only diagonally
    (4-connectivity: apart)."""
    diff = np.full((9, 9), 10.0, np.float32)
    for mask in (np.zeros((9, 9), bool), np.ones((9, 9), bool), np.eye(9, dtype=bool)):
        got, want = kernels.label_blobs(mask, diff, 4.0, 1.0), reference.label_blobs(mask, diff, 4.0, 1.0)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[2], want[2])
        assert got[3] == want[3]
    spiral = np.zeros((9, 9), bool)
    spiral[0, :] = spiral[:, 8] = spiral[8, :] = spiral[2:, 0] = spiral[2, :7] = spiral[2:7, 6] = True
    labels, areas, _, _ = kernels.label_blobs(spiral, diff, 4.0, 1.0)
    assert labels.max() == 1 and areas[0] == spiral.sum()
    assert len(kernels.label_blobs(np.eye(9, dtype=bool), diff, 4.0, 1.0)[1]) == 9
    assert len(kernels.label_blobs(spiral, diff, 20.0, 1.0)[1]) == 0  # no pixel reaches the seed level


def test_label_blobs_on_a_working_frame_size() -> None:
    mask, diff = random_foreground(np.random.default_rng(5), 512, 640)
    got, want = kernels.label_blobs(mask, diff, 4.0, 6.0), reference.label_blobs(mask, diff, 4.0, 6.0)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[2], want[2])


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 5), n=st.integers(1, 400), seed=st.integers(0, 2**16))
def test_split_blob_equals_the_reference(k: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 40, n), rng.integers(0, 30, n)
    weights = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0, 5, n))  # some pixels weigh nothing
    starts = rng.uniform(0, 40, (k, 2))
    sizes = rng.choice([1.0, 1.0, 2.0, 3.0], k)  # animals of different sizes (a rat among mice)
    np.testing.assert_allclose(kernels.split_blob(x, y, weights, starts, sizes),
                               reference.split_blob(x, y, weights, starts, sizes), rtol=1e-12, atol=1e-9)


def test_split_blob_keeps_a_centre_that_gets_no_pixel() -> None:
    x, y = np.array([0, 1, 2]), np.array([0, 0, 0])
    centres = kernels.split_blob(x, y, np.ones(3), np.array([[1.0, 0.0], [100.0, 100.0]]))
    np.testing.assert_allclose(centres, [[1.0, 0.0], [100.0, 100.0]])
    with pytest.raises(ValueError, match="one length"):
        kernels.split_blob(x, y[:2], np.ones(3), centres)
    with pytest.raises(ValueError, match="positive"):
        kernels.split_blob(x, y, np.ones(3), centres, np.array([1.0, 0.0]))


def test_a_large_animal_keeps_its_body_in_a_shared_blob() -> None:
    """A rat (three mouse areas) touching a mouse: with equal sizes the mouse's centre is pulled into the rat's
    body; told the sizes, each centre stays on its own animal."""
    yy, xx = np.mgrid[0:40, 0:120]
    rat = ((xx - 40) / 30.0) ** 2 + ((yy - 20) / 10.0) ** 2 <= 1
    mouse = ((xx - 84) / 14.0) ** 2 + ((yy - 20) / 7.0) ** 2 <= 1
    y, x = np.nonzero(rat | mouse)
    starts = np.array([[40.0, 20.0], [84.0, 20.0]])
    equal = kernels.split_blob(x, y, np.ones(len(x)), starts)
    sized = kernels.split_blob(x, y, np.ones(len(x)), starts, np.array([3.0, 1.0]))
    assert abs(sized[1, 0] - 84) < abs(equal[1, 0] - 84) and abs(sized[1, 0] - 84) < 3
    assert abs(sized[0, 0] - 40) < 3


def ellipse(xx: np.ndarray, yy: np.ndarray, centre: tuple[float, float], degrees: float) -> np.ndarray:
    """A mouse-like body: semi-axes 20 and 7 px, turned by ``degrees``."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    dx, dy = xx - centre[0], yy - centre[1]
    return ((dx * c + dy * s) / 20.0) ** 2 + ((dy * c - dx * s) / 7.0) ** 2 <= 1


BODY = ((40.0 / 4) ** 2, (20.0 * 7.0 / 40.0) ** 2)  # the variances Tracker gives a 40 px body of that area


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 5), n=st.integers(1, 400), seed=st.integers(0, 2**16))
def test_split_blob_shaped_equals_the_reference(k: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 40, n), rng.integers(0, 30, n)
    weights = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0, 5, n))
    starts = rng.uniform(0, 40, (k, 2))
    sizes = rng.choice([1.0, 1.0, 2.0, 3.0], k)
    before = np.where(rng.random(k) < 0.5, np.nan, rng.uniform(-np.pi / 2, np.pi / 2, k))  # NaN: not known
    centres, angles = kernels.split_blob_shaped(x, y, weights, starts, sizes, BODY, before)
    want_centres, want_angles = reference.split_blob_shaped(x, y, weights, starts, sizes, BODY, before)
    np.testing.assert_allclose(centres, want_centres, rtol=1e-12, atol=1e-9)
    # an axis is a direction without a sign: compare 2θ (θ and θ ± π/2 · 2 are the same axis at the wrap)
    np.testing.assert_allclose(np.cos(2 * angles), np.cos(2 * want_angles), atol=1e-9)
    np.testing.assert_allclose(np.sin(2 * angles), np.sin(2 * want_angles), atol=1e-9)


@pytest.mark.parametrize(("second", "degrees"), [((72.0, 40.0), 90.0), ((66.0, 50.0), 0.0)], ids=["T", "staggered"])
def test_bodies_lying_across_each_other_keep_their_centres_and_axes(second: tuple[float, float],
                                                                    degrees: float) -> None:  # fmt: skip
    """Two mice in a T, or side by side half a body apart: k-means cuts the union into two halves of both and
    misplaces the centres by 3–4 px; shaped by the bodies, each centre and axis is its own animal's."""
    yy, xx = np.mgrid[0:100, 0:140]
    y, x = np.nonzero(ellipse(xx, yy, (50.0, 40.0), 0.0) | ellipse(xx, yy, second, degrees))
    truth = np.array([(50.0, 40.0), second])
    starts = truth + [[4.0, -3.0], [-4.0, 3.0]]  # the filter peaks are a few px off
    by_kmeans = kernels.split_blob(x, y, np.ones(len(x)), starts)
    centres, angles = kernels.split_blob_shaped(x, y, np.ones(len(x)), starts, np.ones(2), BODY)
    assert np.linalg.norm(by_kmeans - truth, axis=1).max() > 3.0
    assert np.linalg.norm(centres - truth, axis=1).max() < 1.5
    np.testing.assert_allclose(np.cos(2 * angles), np.cos(2 * np.radians([0.0, degrees])), atol=0.02)


def test_split_blob_shaped_names_bad_arguments() -> None:
    x, y = np.array([0, 1, 2]), np.array([0, 0, 0])
    with pytest.raises(ValueError, match="variances must be positive"):
        kernels.split_blob_shaped(x, y, np.ones(3), np.zeros((1, 2)), np.ones(1), (1.0, 0.0))
    with pytest.raises(ValueError, match="sizes must be"):
        kernels.split_blob_shaped(x, y, np.ones(3), np.zeros((2, 2)), np.ones(1), BODY)
    with pytest.raises(ValueError, match="angles must be"):
        kernels.split_blob_shaped(x, y, np.ones(3), np.zeros((1, 2)), np.ones(1), BODY, np.zeros(2))
