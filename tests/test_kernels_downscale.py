"""udmt.kernels.block_mean against its numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udmt import kernels
from udmt.kernels import reference


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 90), width=st.integers(1, 90), factor=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_equals_the_reference_bit_for_bit(height: int, width: int, factor: int, seed: int) -> None:
    """Any shape, including edges that do not fill a block (dropped), and any factor up to the frame's size."""
    if factor > min(height, width):
        return
    frame = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    got = kernels.block_mean(frame, factor)
    assert got.dtype == np.float32 and got.shape == (height // factor, width // factor)
    np.testing.assert_array_equal(got, reference.block_mean(frame, factor))


def test_extremes_and_a_large_frame() -> None:
    """All-white blocks stay exactly 255; a 3712² frame (a zebrafish arena) takes the threaded path."""
    assert (kernels.block_mean(np.full((64, 64), 255, np.uint8), 16) == 255.0).all()
    frame = np.random.default_rng(1).integers(0, 256, (3712, 3712), dtype=np.uint8)
    np.testing.assert_array_equal(kernels.block_mean(frame, 6), reference.block_mean(frame, 6))


def test_non_contiguous_input_and_bad_arguments() -> None:
    frame = np.random.default_rng(2).integers(0, 256, (40, 60), dtype=np.uint8)
    np.testing.assert_array_equal(kernels.block_mean(frame[:, ::2], 3), reference.block_mean(frame[:, ::2], 3))
    with pytest.raises(ValueError, match="factor must be at least 1"):
        kernels.block_mean(frame, 0)
    with pytest.raises(ValueError, match="smaller than one block"):
        kernels.block_mean(frame, 41)
    with pytest.raises(ValueError, match="2-D"):
        kernels.block_mean(frame[None], 2)
