"""The result store: a zarr v3 group laid out as a ``movement`` poses dataset (DESIGN.md §4).

``xarray.open_zarr(path)`` gives a Dataset that ``movement`` accepts as-is. The arrays are created once, full
size and NaN-filled, by :func:`create_store`; workers then fill whole time chunks with :func:`write_block`.
Each zarr chunk has exactly one writer, which is what makes concurrent writers from many processes (or array
tasks) safe: two writers in one chunk lose updates (notes/stack.md).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from udmt import __version__
from udmt.errors import InputError, UsageError

if TYPE_CHECKING:
    import xarray as xr

FLAG_REFINED = 1  # snapped to a single-animal foreground blob
FLAG_MERGED = 2  # inside a merged blob (touching/occluded animals)
FLAG_CORRECTED = 4  # identity re-assigned by the error correction
FLAG_INTERPOLATED = 8  # filled between known positions, not observed
FLAG_LOST = 16  # no position (tracker lost the animal)

FLAG_NAMES: dict[int, str] = {
    FLAG_REFINED: "refined",
    FLAG_MERGED: "merged",
    FLAG_CORRECTED: "corrected",
    FLAG_INTERPOLATED: "interpolated",
    FLAG_LOST: "lost",
}

#: Layout version written into every store; a reader refuses newer layouts instead of misreading them.
STORE_FORMAT = 1

_COMPRESSORS = (BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),)  # fastest lossless codec here


@dataclass
class Tracks:
    """A whole store in memory: ``position[t, animal, xy]`` float32, NaN where unknown."""

    position: np.ndarray  # (T, N, 2) float32
    confidence: np.ndarray  # (T, N) float32
    flags: np.ndarray  # (T, N) uint8
    fps: float
    individuals: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.position.shape[0])


def _jsonable(attrs: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through JSON so numpy scalars/arrays and paths are stored as plain JSON values."""

    def default(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, Path):
            return str(value)
        raise UsageError(f"store attribute value {value!r} is not JSON-serialisable; pass plain numbers/strings")

    return json.loads(json.dumps(attrs, default=default, allow_nan=True))


def _consolidate(path: Path) -> None:
    """Refresh consolidated metadata so ``xarray.open_zarr`` opens the store without a warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        zarr.consolidate_metadata(str(path))


def create_store(
    path: str | Path,
    *,
    n_frames: int,
    individuals: list[str],
    fps: float,
    time_chunk: int,
    attrs: dict[str, Any],
    overwrite: bool = False,
    times: np.ndarray | None = None,
) -> None:
    """Create an empty (NaN-filled) store for ``n_frames`` frames of ``individuals``.

    The time chunk should equal (or divide) the processing chunk so that each worker owns whole zarr chunks.
    ``times`` are the frames' presentation times in seconds (a variable-frame-rate video's own clock); frames
    past its end (a truncated video) and stores without it continue at ``1 / fps``.
    """
    path = Path(path)
    if n_frames < 1 or time_chunk < 1:
        raise UsageError(f"{path}: n_frames ({n_frames}) and time_chunk ({time_chunk}) must be positive")
    if not individuals or len(set(individuals)) != len(individuals):
        raise UsageError(f"{path}: individual names must be unique and non-empty, got {individuals}")
    if not fps > 0:
        raise UsageError(f"{path}: fps must be positive, got {fps}")
    if path.exists() and not overwrite:
        raise UsageError(f"{path} already exists; choose another output or pass overwrite")
    n = len(individuals)
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.attrs.update(
        {
            **_jsonable(attrs),
            "ds_type": "poses",
            "source_software": "udmt",
            "fps": float(fps),
            "time_unit": "seconds",
            "udmt_version": __version__,
            "store_format": STORE_FORMAT,
        }
    )

    def array(name: str, shape: tuple[int, ...], dims: tuple[str, ...], dtype: str, fill: Any) -> None:
        group.create_array(
            name,
            shape=shape,
            chunks=(time_chunk, *shape[1:]),
            dtype=dtype,
            fill_value=fill,
            compressors=_COMPRESSORS,
            dimension_names=dims,
        )

    array("position", (n_frames, 2, 1, n), ("time", "space", "keypoints", "individuals"), "float32", np.nan)
    array("confidence", (n_frames, 1, n), ("time", "keypoints", "individuals"), "float32", np.nan)
    array("flags", (n_frames, n), ("time", "individuals"), "uint8", 0)
    time = group.create_array("time", shape=(n_frames,), dtype="float64", dimension_names=("time",))
    time[:] = _frame_times(path, n_frames, fps, times)
    for name, values in (("space", ["x", "y"]), ("keypoints", ["centroid"]), ("individuals", list(individuals))):
        coord = group.create_array(name, shape=(len(values),), dtype=str, dimension_names=(name,))
        coord[:] = np.array(values)
    _consolidate(path)


def _frame_times(path: Path, n_frames: int, fps: float, times: np.ndarray | None) -> np.ndarray:
    """The time coordinate: ``times`` where given, continued at ``1 / fps`` to ``n_frames``."""
    given = np.zeros(0) if times is None else np.asarray(times, np.float64)
    if given.ndim != 1 or len(given) > n_frames or not np.isfinite(given).all() or np.any(np.diff(given) <= 0):
        raise UsageError(f"{path}: frame times must be at most {n_frames} finite, increasing seconds")
    start = given[-1] + 1.0 / fps if len(given) else 0.0
    return np.concatenate([given, start + np.arange(n_frames - len(given), dtype=np.float64) / float(fps)])


def _open_group(path: Path, mode: str) -> zarr.Group:
    """Open ``path`` as a udmt store, or raise InputError naming it."""
    if not path.exists():
        raise InputError(f"{path} does not exist; give the .zarr store written by `udmt track`")
    try:
        group = zarr.open_group(str(path), mode=mode, zarr_format=3)
        is_udmt = group.attrs.get("source_software") == "udmt" and all(
            name in group for name in ("position", "confidence", "flags", "individuals")
        )
    except (OSError, ValueError, KeyError, zarr.errors.BaseZarrError):
        is_udmt = False
    if not is_udmt:
        raise InputError(f"{path} is not a udmt store (zarr v3); give the .zarr store written by `udmt track`")
    layout = group.attrs.get("store_format", 1)  # stores from before the field existed have layout 1
    if not isinstance(layout, int) or layout > STORE_FORMAT:
        raise InputError(f"{path}: written by udmt {group.attrs.get('udmt_version')} in store format {layout}; this "
                         f"udmt ({__version__}) reads formats up to {STORE_FORMAT}: upgrade udmt")  # fmt: skip
    return group


def check_tracked_from(path: str | Path, video: str | Path, video_hash: str) -> None:
    """Refuse to pair a store with a video it was not tracked from (its recorded content hash differs)."""
    attrs = read_attrs(path)
    if attrs.get("video_hash") not in (None, video_hash):
        raise InputError(f"{path} was tracked from {attrs.get('video_path')}, not from {video}; give "
                         "the video the store was tracked from")  # fmt: skip


def check_replaceable(path: str | Path, *, video_hash: str) -> None:
    """Refuse to replace ``path`` unless it is absent or a udmt store of the same video (a redo of that result).

    Anything else there (another video's result, a foreign folder, a file) is someone's data: never delete it.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    try:
        attrs = read_attrs(path)
    except InputError:
        raise UsageError(f"{path} exists and is not a udmt store; choose another output (-o) or move it away") from None
    if attrs.get("video_hash") != video_hash:
        raise UsageError(f"{path} holds the result for another video ({attrs.get('video_path')}); choose another "
                         "output (-o) or move it away")  # fmt: skip


def write_block(
    path: str | Path, start: int, position: np.ndarray, confidence: np.ndarray, flags: np.ndarray
) -> None:
    """Write frames ``start .. start+T`` of every animal; the block must cover whole time chunks.

    Whole chunks are required so that concurrent writers never share a zarr chunk (shared chunks lose updates).
    The last block may end at the end of the recording instead of a chunk boundary.
    """
    path = Path(path)
    group = _open_group(path, "r+")
    pos_arr = group["position"]
    n_frames, _, _, n = pos_arr.shape
    chunk = pos_arr.chunks[0]
    position = np.asarray(position, dtype=np.float32)
    t = position.shape[0]
    if position.shape != (t, n, 2) or np.shape(confidence) != (t, n) or np.shape(flags) != (t, n):
        raise UsageError(
            f"{path}: block shapes position {position.shape}, confidence {np.shape(confidence)}, "
            f"flags {np.shape(flags)} do not match (T, {n}, 2), (T, {n}), (T, {n})"
        )
    stop = start + t
    if start < 0 or start % chunk or stop > n_frames or (stop % chunk and stop != n_frames) or t == 0:
        raise UsageError(
            f"{path}: block of frames {start}..{stop} must start and end on time-chunk boundaries "
            f"(multiples of {chunk}) within 0..{n_frames}"
        )
    pos_arr[start:stop] = position.transpose(0, 2, 1)[:, :, None, :]
    group["confidence"][start:stop] = np.asarray(confidence, dtype=np.float32)[:, None, :]
    group["flags"][start:stop] = np.asarray(flags, dtype=np.uint8)


def read_attrs(path: str | Path) -> dict[str, Any]:
    """All store attributes (parameters, video, QC …) as plain JSON values."""
    return dict(_open_group(Path(path), "r").attrs)


def update_attrs(path: str | Path, **attrs: Any) -> None:
    """Merge ``attrs`` into the store attributes. Single writer only (e.g. the stitch step)."""
    path = Path(path)
    clash = sorted(set(attrs) & {"ds_type", "source_software", "time_unit"})
    if clash:
        raise UsageError(f"{path}: attributes {clash} are fixed by the store layout and cannot be changed")
    group = _open_group(path, "r+")
    group.attrs.update(_jsonable(attrs))
    _consolidate(path)


def read_tracks(path: str | Path) -> Tracks:
    """Read the whole store into memory in the ``(T, N, 2)`` layout the stages use."""
    group = _open_group(Path(path), "r")
    position = np.asarray(group["position"][:])[:, :, 0, :].transpose(0, 2, 1)
    attrs = dict(group.attrs)
    return Tracks(
        position=np.ascontiguousarray(position, dtype=np.float32),
        confidence=np.asarray(group["confidence"][:])[:, 0, :],
        flags=np.asarray(group["flags"][:]),
        fps=float(attrs["fps"]),
        individuals=[str(name) for name in group["individuals"][:]],
        attrs=attrs,
    )


def open_dataset(path: str | Path) -> xr.Dataset:
    """The store as a lazily loaded ``movement`` poses Dataset."""
    import xarray as xr  # here, not above: it costs a second of start-up to every command that never reads one

    path = Path(path)
    _open_group(path, "r")
    return xr.open_zarr(str(path), consolidated=True)
