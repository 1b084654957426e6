"""udmt.kernels.label_blobs and split_blob against their numpy/scipy references."""

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
