"""udmt.kernels.linear_sum_assignment(_batch) against scipy.optimize.linear_sum_assignment."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from udmt import kernels
from udmt.kernels import reference


def assert_optimal(cost: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    """A valid assignment (rows ascending, one per row/column, k = min(n, m)) with scipy's optimal cost."""
    ref_rows, ref_cols = reference.linear_sum_assignment(cost)
    assert rows.dtype == np.int64 and cols.dtype == np.int64
    assert len(rows) == len(cols) == min(cost.shape)
    assert (np.diff(rows) > 0).all() and len(set(cols.tolist())) == len(cols)
    np.testing.assert_allclose(cost[rows, cols].sum(), cost[ref_rows, ref_cols].sum(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(10, 10), (50, 50), (7, 31), (31, 7), (200, 200), (120, 300)])
def test_random_matches_scipy(shape: tuple[int, int]) -> None:
    cost = np.random.default_rng(sum(shape)).uniform(-5, 100, shape)
    assert_optimal(cost, *kernels.linear_sum_assignment(cost))


@pytest.mark.parametrize(
    "cost",
    [
        np.ones((6, 6)),  # all equal
        np.random.default_rng(1).integers(0, 3, (12, 12)).astype(float),  # many ties
        np.random.default_rng(2).integers(0, 2, (5, 9)).astype(float),
        np.array([[3.0, 1.0, 2.0, 1.0]]),  # one row
        np.array([[3.0], [1.0], [2.0]]),  # one column
        np.zeros((0, 4)),
        np.zeros((4, 0)),
        np.array([[np.inf, 1.0], [2.0, np.inf]]),  # forbidden pairs, feasible
        np.array([[1.0, np.inf, np.inf], [np.inf, np.inf, 5.0]]),
        np.array([[1e12, 1.0], [1.0, -1e12]]),
    ],
)
def test_degenerate_inputs_match_scipy(cost: np.ndarray) -> None:
    assert_optimal(cost, *kernels.linear_sum_assignment(cost))


@pytest.mark.parametrize(
    "cost",
    [
        np.array([[np.inf, np.inf], [1.0, 2.0]]),  # a row with no allowed column
        np.array([[1.0, np.inf], [2.0, np.inf]]),  # two rows compete for one column
        np.full((3, 5), np.inf),
        np.array([[1.0, np.inf, np.inf], [2.0, np.inf, np.inf], [0.0, 1.0, 2.0]]).T,  # two columns, one row
    ],
)
def test_infeasible_is_a_clear_error(cost: np.ndarray) -> None:
    with pytest.raises(ValueError):
        reference.linear_sum_assignment(cost)
    with pytest.raises(ValueError, match="infeasible"):
        kernels.linear_sum_assignment(cost)


@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_nan_and_minus_inf_are_refused(bad: float) -> None:
    cost = np.ones((3, 3))
    cost[1, 2] = bad
    with pytest.raises(ValueError, match="NaN or -inf"):
        kernels.linear_sum_assignment(cost)


def test_batch_matches_scipy_loop() -> None:
    costs = np.random.default_rng(3).uniform(0, 1, (500, 6, 9))
    costs[::7, 0, :4] = np.inf
    rows, cols = kernels.linear_sum_assignment_batch(costs)
    ref_rows, ref_cols = reference.linear_sum_assignment_batch(costs)
    assert rows.shape == cols.shape == (500, 6)
    np.testing.assert_array_equal(rows, ref_rows)
    batch = np.arange(500)[:, None]
    np.testing.assert_allclose(costs[batch, rows, cols].sum(axis=1), costs[batch, ref_rows, ref_cols].sum(axis=1))


def test_batch_error_names_the_first_bad_matrix() -> None:
    costs = np.random.default_rng(4).uniform(0, 1, (100, 4, 4))
    costs[42, :, 1:] = np.inf
    costs[42, 1, 0] = np.inf  # rows 0 and 2, 3 fight over column 0 only
    costs[77, 0, 0] = np.nan
    with pytest.raises(ValueError, match="matrix 42 .*infeasible"):
        kernels.linear_sum_assignment_batch(costs)


def test_batch_of_empty_matrices() -> None:
    rows, cols = kernels.linear_sum_assignment_batch(np.zeros((3, 0, 5)))
    assert rows.shape == cols.shape == (3, 0)


finite_or_forbidden = st.one_of(st.integers(-3, 3).map(float), st.floats(-100, 100), st.just(np.inf))


small_shapes = hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=7)


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(np.float64, small_shapes, elements=finite_or_forbidden))
def test_random_small_problems_agree_with_scipy_on_cost_and_feasibility(cost: np.ndarray) -> None:
    try:
        reference.linear_sum_assignment(cost)
    except ValueError:
        with pytest.raises(ValueError, match="infeasible"):
            kernels.linear_sum_assignment(cost)
        return
    assert_optimal(cost, *kernels.linear_sum_assignment(cost))


@pytest.mark.parametrize("shape", [(10, 10), (3, 10), (10, 3), (32, 32), (32, 17), (33, 33), (1, 32)])
def test_batch_small_and_boundary_shapes_match_scipy(shape: tuple[int, int]) -> None:
    """Stack-buffer path (n, m <= 32), its rectangular and tall forms, and the heap path just above it."""
    rng = np.random.default_rng(sum(shape))
    costs = rng.integers(0, 4, (40, *shape)).astype(float)  # small integers: many ties
    costs[::3] = rng.uniform(-1, 1, (len(costs[::3]), *shape))
    costs[1::5, 0, : min(shape) // 2] = np.inf  # forbidden pairs that stay feasible
    rows, cols = kernels.linear_sum_assignment_batch(costs)
    assert rows.shape == cols.shape == (40, min(shape))
    for cost, r, c in zip(costs, rows, cols):
        assert_optimal(cost, r, c)


@pytest.mark.parametrize("shape", [(4, 4), (3, 6), (6, 3)])
def test_batch_small_infeasible_and_invalid_are_reported(shape: tuple[int, int]) -> None:
    costs = np.random.default_rng(5).uniform(0, 1, (6, *shape))
    costs[2] = np.inf
    costs[2, 0, 0] = 1.0  # only one allowed pair: no complete assignment
    costs[4, 1, 1] = -np.inf
    with pytest.raises(ValueError, match="matrix 2 .*infeasible"):
        kernels.linear_sum_assignment_batch(costs)
    with pytest.raises(ValueError, match="matrix 1 .*NaN or -inf"):
        kernels.linear_sum_assignment_batch(costs[3:])  # matrix 4 of the full stack


@pytest.mark.parametrize("n", [1, 2, 4, 5, 9, 12, 16, 17])
def test_batch_square_register_solver_matches_scipy(n: int) -> None:
    """Square n <= 16 runs the AVX2 solver (one to four vectors of columns, partial last vector); 17 does not."""
    rng = np.random.default_rng(100 + n)
    costs = rng.uniform(-1e3, 1e3, (60, n, n))
    costs[10:20] = rng.integers(0, 2, (10, n, n))  # ties everywhere
    costs[20:30] = 7.0  # all equal
    forbidden = rng.random((30, n, n)) < 0.35
    np.einsum("bii->bi", forbidden)[:] = False  # the diagonal stays allowed: feasible
    costs[30:] = np.where(forbidden, np.inf, costs[30:])
    rows, cols = kernels.linear_sum_assignment_batch(costs)
    assert rows.shape == cols.shape == (60, n)
    for cost, r, c in zip(costs, rows, cols):
        assert_optimal(cost, r, c)


@pytest.mark.parametrize("n", [3, 10, 16])
def test_square_register_solver_reports_infeasible_and_invalid(n: int) -> None:
    cost = np.random.default_rng(n).uniform(0, 1, (n, n))
    cost[:, n // 2] = np.inf  # a column no row may take
    with pytest.raises(ValueError, match="infeasible"):
        kernels.linear_sum_assignment(cost)
    cost = np.random.default_rng(n).uniform(0, 1, (n, n))
    cost[1:, :2] = np.inf
    cost[0, 2:] = np.inf  # rows 1.. fight for n - 2 columns
    with pytest.raises(ValueError, match="infeasible"):
        kernels.linear_sum_assignment(cost)
    cost[:] = 1.0
    cost[n - 1, n - 1] = np.nan
    with pytest.raises(ValueError, match="NaN or -inf"):
        kernels.linear_sum_assignment(cost)
