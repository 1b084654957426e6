"""udmt.kernels.crop_resize against its numpy reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from udmt import kernels
from udmt.kernels import reference


def test_matches_reference_inside_and_across_borders() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (120, 160), dtype=np.uint8)
    centres = np.array([[80.0, 60.0], [0.0, 0.0], [159.5, 119.2], [-30.0, 200.0], [10.3, 50.7]], dtype=np.float32)
    sides = np.array([32.0, 40.0, 17.3, 64.0, 8.0], dtype=np.float32)
    got = kernels.crop_resize(frame, centres, sides, 32)
    assert got.shape == (5, 32, 32) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference.crop_resize(frame, centres, sides, 32), atol=1e-3)


def test_identity_crop_returns_the_pixels() -> None:
    frame = np.arange(64 * 64, dtype=np.int64).reshape(64, 64).astype(np.uint8)
    # A 16-pixel window at scale 1 centred between pixels 23 and 24 covers pixels 16..31 exactly.
    got = kernels.crop_resize(frame, np.array([[23.5, 23.5]]), np.array([16.0]), 16)
    np.testing.assert_array_equal(got[0], frame[16:32, 16:32].astype(np.float32))


def test_far_outside_replicates_the_corner() -> None:
    frame = np.random.default_rng(1).integers(0, 256, (20, 30), dtype=np.uint8)
    got = kernels.crop_resize(frame, np.array([[-500.0, -500.0]]), np.array([10.0]), 4)
    np.testing.assert_array_equal(got, np.full((1, 4, 4), frame[0, 0], dtype=np.float32))


@settings(max_examples=30, deadline=None)
@given(
    h=st.integers(1, 50),
    w=st.integers(1, 50),
    n=st.integers(0, 4),
    size=st.integers(1, 24),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_windows_match_reference(h: int, w: int, n: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (h, w), dtype=np.uint8)
    centres = rng.uniform(-20, 70, (n, 2)).astype(np.float32)
    sides = rng.uniform(0.5, 80, n).astype(np.float32)
    np.testing.assert_allclose(
        kernels.crop_resize(frame, centres, sides, size), reference.crop_resize(frame, centres, sides, size), atol=2e-3
    )
