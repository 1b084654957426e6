"""udmt.behaviour: hand-checkable speeds, distances, proximity events and resampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from udmt import behaviour
from udmt.errors import InputError, UsageError


def test_constant_velocity_speed() -> None:
    t = np.arange(20, dtype=np.float64)
    position = np.stack([np.stack([3 * t, 4 * t], -1), np.stack([t * 0 + 7, t * 0], -1)], 1)  # 5 px/frame; still
    s = behaviour.speed(position, fps=30)
    np.testing.assert_allclose(s[:, 0], 150.0)  # 5 px/frame × 30 frame/s
    np.testing.assert_allclose(s[:, 1], 0.0)
    position[10, 0] = np.nan
    s = behaviour.speed(position, fps=30)
    assert np.isnan(s[[9, 11], 0]).all() and s[8, 0] == pytest.approx(150.0)


def test_nearest_neighbour() -> None:
    position = np.array([[[0, 0], [3, 4], [0, 10]], [[0, 0], [np.nan, np.nan], [0, 10]]], dtype=np.float64)
    distance, index = behaviour.nearest_neighbour(position)
    np.testing.assert_allclose(distance[0], [5, 5, np.hypot(3, 6)])
    np.testing.assert_array_equal(index[0], [1, 0, 1])
    np.testing.assert_allclose(distance[1], [10, np.nan, 10])
    np.testing.assert_array_equal(index[1], [2, -1, 0])


def test_proximity_events_threshold_and_duration() -> None:
    t = 40
    position = np.zeros((t, 2, 2))
    position[:, 1, 0] = 100.0
    position[5:15, 1, 0] = 10.0  # 10 frames close
    position[20:23, 1, 0] = 10.0  # 3 frames close
    position[30:35, 1, 0] = 10.0
    position[32, 0] = np.nan  # a gap splits 30..35 into 30..32 and 33..35
    events = behaviour.proximity_events(position, fps=10, threshold_px=20, min_duration_s=0.2)
    expected = [(0, 1, 5, 15), (0, 1, 20, 23), (0, 1, 30, 32), (0, 1, 33, 35)]
    assert [(e.a, e.b, e.start, e.stop) for e in events] == expected
    events = behaviour.proximity_events(position, fps=10, threshold_px=20, min_duration_s=0.5)
    assert [(e.start, e.stop, e.min_distance_px) for e in events] == [(5, 15, 10.0)]


def test_resample_linear_and_gaps() -> None:
    times = np.array([0.0, 1.0, 2.0, 3.0])
    values = np.array([0.0, 10.0, np.nan, 30.0])
    out = behaviour.resample(times, values, np.array([-0.5, 0.0, 0.25, 1.0, 1.5, 2.5, 3.0, 3.5]))
    np.testing.assert_allclose(out, [np.nan, 0.0, 2.5, 10.0, np.nan, np.nan, 30.0, np.nan])
    xy = np.stack([times, 2 * times], -1)[:, None, :]  # (T, 1, 2)
    np.testing.assert_allclose(behaviour.resample(times, xy, np.array([0.5, 2.75]))[:, 0], [[0.5, 1.0], [2.75, 5.5]])


def test_read_timeline(tmp_path: Path) -> None:
    path = tmp_path / "tl.csv"
    path.write_text("sample,time\n0,0.5\n1,0.75\n")
    np.testing.assert_array_equal(behaviour.read_timeline(path), [0.5, 0.75])
    path.write_text("t\n1.0\n0.5\n")
    with pytest.raises(UsageError, match="must not decrease"):
        behaviour.read_timeline(path)
    path.write_text("t\n1.0\nabc\n")
    with pytest.raises(InputError, match="tl.csv"):
        behaviour.read_timeline(path)
