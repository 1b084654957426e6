"""udmt.store: layout, chunk-aligned writes (also from concurrent processes), movement compatibility."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from movement.kinematics import compute_velocity
from movement.validators.datasets import ValidPosesInputs

from udmt import store
from udmt.errors import InputError, UsageError

FPS = 25.0
NAMES = ["animal_0", "animal_1", "animal_2"]


def _random_block(rng: np.random.Generator, t: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    position = rng.uniform(0, 640, (t, n, 2)).astype(np.float32)
    position[rng.random((t, n)) < 0.1] = np.nan
    confidence = rng.random((t, n)).astype(np.float32)
    flags = rng.integers(0, 32, (t, n), dtype=np.uint8)
    return position, confidence, flags


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equality (NaN payloads included) of float32 arrays."""
    a, b = np.ascontiguousarray(a, np.float32), np.ascontiguousarray(b, np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def _new_store(tmp_path: Path, n_frames: int = 100, chunk: int = 16, **attrs: object) -> Path:
    path = tmp_path / "tracks.zarr"
    store.create_store(path, n_frames=n_frames, individuals=NAMES, fps=FPS, time_chunk=chunk, attrs=attrs)
    return path


def test_write_and_read_back_bit_for_bit(tmp_path: Path) -> None:
    path = _new_store(tmp_path, n_frames=100, chunk=16, video={"path": "v.mp4", "hash": "abc"})
    rng = np.random.default_rng(0)
    blocks = {start: _random_block(rng, min(32, 100 - start), 3) for start in (0, 32, 96)}
    for start, block in blocks.items():
        store.write_block(path, start, *block)

    tracks = store.read_tracks(path)
    assert tracks.position.shape == (100, 3, 2) and tracks.position.dtype == np.float32
    assert tracks.individuals == NAMES and tracks.fps == FPS
    assert tracks.attrs["video"] == {"path": "v.mp4", "hash": "abc"}
    for start, (position, confidence, flags) in blocks.items():
        stop = start + len(position)
        assert _bits_equal(tracks.position[start:stop], position)
        assert _bits_equal(tracks.confidence[start:stop], confidence)
        assert np.array_equal(tracks.flags[start:stop], flags)
    # frames 64..96 were never written: unknown, not zero
    assert np.isnan(tracks.position[64:96]).all() and np.isnan(tracks.confidence[64:96]).all()
    assert not tracks.flags[64:96].any()


def test_concurrent_writers_in_spawned_processes(tmp_path: Path) -> None:
    """Two processes fill interleaved chunks at once; nothing is lost and movement accepts the result."""
    n_frames, chunk = 240, 10
    path = _new_store(tmp_path, n_frames=n_frames, chunk=chunk)
    rng = np.random.default_rng(1)
    position, confidence, flags = _random_block(rng, n_frames, 3)
    jobs = [
        (path, s, position[s : s + chunk], confidence[s : s + chunk], flags[s : s + chunk])
        for s in range(0, n_frames, chunk)
    ]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.starmap(store.write_block, jobs, chunksize=1)

    ds = xr.open_zarr(path)
    ValidPosesInputs.validate(ds)
    assert ds.attrs["ds_type"] == "poses" and ds.attrs["source_software"] == "udmt"
    assert list(ds.individuals.values) == NAMES and list(ds.keypoints.values) == ["centroid"]
    assert list(ds.space.values) == ["x", "y"]
    np.testing.assert_array_equal(ds.time.values, np.arange(n_frames) / FPS)
    assert ds.flags.dtype == np.uint8 and np.array_equal(ds.flags.values, flags)
    stored = ds.position.values[:, :, 0, :].transpose(0, 2, 1)
    assert _bits_equal(stored, position)
    assert _bits_equal(ds.confidence.values[:, 0, :], confidence)
    # movement's own maths runs on the stored positions: velocity of a fully known stretch
    velocity = compute_velocity(ds.position).values[:, :, 0, :].transpose(0, 2, 1)
    expected = np.gradient(position.astype(np.float64), 1 / FPS, axis=0)
    valid = ~np.isnan(position).any(-1)
    known = valid[:-2] & valid[1:-1] & valid[2:]
    np.testing.assert_allclose(velocity[1:-1][known], expected[1:-1][known], rtol=1e-4)


def test_open_dataset_matches_read_tracks(tmp_path: Path) -> None:
    path = _new_store(tmp_path, n_frames=20, chunk=20)
    block = _random_block(np.random.default_rng(2), 20, 3)
    store.write_block(path, 0, *block)
    ds = store.open_dataset(path)
    assert _bits_equal(ds.position.values[:, :, 0, :].transpose(0, 2, 1), store.read_tracks(path).position)


@pytest.mark.parametrize(
    ("start", "length", "n", "message"),
    [
        (5, 16, 3, "time-chunk boundaries"),  # not chunk-aligned start
        (0, 20, 3, "time-chunk boundaries"),  # ends inside a chunk
        (96, 16, 3, "time-chunk boundaries"),  # runs past the end
        (0, 16, 2, "do not match"),  # wrong number of animals
    ],
)
def test_write_block_rejects_bad_blocks(tmp_path: Path, start: int, length: int, n: int, message: str) -> None:
    path = _new_store(tmp_path, n_frames=100, chunk=16)
    block = _random_block(np.random.default_rng(3), length, n)
    with pytest.raises(UsageError, match=message):
        store.write_block(path, start, *block)


def test_write_block_rejects_mismatched_confidence(tmp_path: Path) -> None:
    path = _new_store(tmp_path, n_frames=32, chunk=16)
    position, confidence, flags = _random_block(np.random.default_rng(4), 16, 3)
    with pytest.raises(UsageError, match="do not match"):
        store.write_block(path, 0, position, confidence[:8], flags)


def test_not_a_store_is_an_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.zarr"
    with pytest.raises(InputError, match="missing.zarr does not exist"):
        store.read_tracks(missing)
    plain = tmp_path / "plain.txt"
    plain.write_text("hello")
    with pytest.raises(InputError, match="plain.txt is not a udmt store"):
        store.read_attrs(plain)
    import zarr

    other = tmp_path / "other.zarr"
    zarr.open_group(str(other), mode="w", zarr_format=3).attrs["source_software"] = "someone else"
    with pytest.raises(InputError, match="other.zarr is not a udmt store"):
        store.open_dataset(other)


def test_attrs_round_trip_and_update(tmp_path: Path) -> None:
    path = _new_store(tmp_path, params={"lambda": np.float32(0.5), "sizes": np.array([32, 64])})
    attrs = store.read_attrs(path)
    assert attrs["params"] == {"lambda": 0.5, "sizes": [32, 64]}
    assert attrs["fps"] == FPS and "udmt_version" in attrs
    store.update_attrs(path, qc={"fb_error_px": 1.25}, model_checksum="deadbeef")
    attrs = store.read_attrs(path)
    assert attrs["qc"] == {"fb_error_px": 1.25} and attrs["model_checksum"] == "deadbeef"
    assert attrs["params"]["lambda"] == 0.5
    assert xr.open_zarr(path).attrs["qc"] == {"fb_error_px": 1.25}  # consolidated metadata refreshed
    with pytest.raises(UsageError, match="ds_type"):
        store.update_attrs(path, ds_type="bboxes")


def test_create_refuses_existing_and_bad_arguments(tmp_path: Path) -> None:
    path = _new_store(tmp_path)
    with pytest.raises(UsageError, match="already exists"):
        _new_store(tmp_path)
    store.create_store(path, n_frames=10, individuals=["a"], fps=30, time_chunk=5, attrs={}, overwrite=True)
    assert store.read_tracks(path).position.shape == (10, 1, 2)
    with pytest.raises(UsageError, match="unique"):
        store.create_store(tmp_path / "x.zarr", n_frames=10, individuals=["a", "a"], fps=30, time_chunk=5, attrs={})
    with pytest.raises(UsageError, match="JSON"):
        store.create_store(
            tmp_path / "y.zarr", n_frames=10, individuals=["a"], fps=30, time_chunk=5, attrs={"f": object()}
        )
