"""Tracks in the files other tools read: tidy CSV, SLEAP analysis HDF5, DeepLabCut HDF5, idtracker.ai.

Positions are written unchanged (original-video pixels, the centre of the top-left pixel at (0, 0)); NaN stays
NaN so every consumer sees unknown frames as missing. Each writer is checked against its real reader in the
tests (movement / sleap-io / pandas / numpy).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from udmt import __version__, behaviour
from udmt.errors import InputError, UsageError
from udmt.store import Tracks, read_tracks

KEYPOINT = "centroid"


def _frames(tracks: Tracks) -> np.ndarray:
    return np.arange(tracks.n_frames)


def _video_path(tracks: Tracks) -> str:
    """The source video's path from the store attributes (several spellings tolerated), else ''."""
    video = tracks.attrs.get("video")
    if isinstance(video, dict):
        return str(video.get("path", ""))
    return str(video or tracks.attrs.get("video_path", ""))


def write_csv(tracks: Tracks, path: Path) -> None:
    """Tidy CSV, one row per frame and animal: frame,time,individual,x,y,confidence,flags."""
    t, n = tracks.confidence.shape
    frames = np.repeat(_frames(tracks), n)
    table = pd.DataFrame(
        {
            "frame": frames,
            "time": frames / tracks.fps,
            "individual": np.tile(np.array(tracks.individuals, dtype=object), t),
            "x": tracks.position[..., 0].ravel(),
            "y": tracks.position[..., 1].ravel(),
            "confidence": tracks.confidence.ravel(),
            "flags": tracks.flags.ravel(),
        }
    )
    table.to_csv(path, index=False)


def write_sleap_analysis(tracks: Tracks, path: Path) -> None:
    """SLEAP analysis HDF5 in SLEAP's own (MATLAB-ordered) layout, one node ``centroid``, one track per animal."""
    occupancy = ~np.isnan(tracks.position).any(-1)  # (frames, tracks)
    scores = tracks.confidence.T.astype(np.float64)  # (tracks, frames)
    locations = tracks.position.astype(np.float64).transpose(1, 2, 0)[:, :, None, :]  # (tracks, xy, nodes, frames)
    arrays = {
        "tracks": (locations, ("track", "xy", "node", "frame")),
        "track_occupancy": (occupancy.astype(np.uint8), ("frame", "track")),
        "point_scores": (scores[:, None, :], ("track", "node", "frame")),
        "instance_scores": (scores, ("track", "frame")),
        "tracking_scores": (scores, ("track", "frame")),
    }
    with h5py.File(path, "w") as f:
        for name, (data, dims) in arrays.items():
            f.create_dataset(name, data=data, compression="gzip", compression_opts=4)
            f[name].attrs["dims"] = json.dumps(dims)
        f.create_dataset("track_names", data=np.array([n.encode() for n in tracks.individuals]))
        f.create_dataset("node_names", data=np.array([KEYPOINT.encode()]))
        f.create_dataset("edge_names", data=np.zeros((0, 2), dtype="S1"))
        f.create_dataset("edge_inds", data=np.zeros((0, 2), dtype=np.int64))
        f.create_dataset("labels_path", data="")
        f.create_dataset("video_path", data=_video_path(tracks))
        f.create_dataset("video_ind", data=0)
        f.create_dataset("provenance", data=json.dumps({"software": "udmt", "udmt": tracks.attrs}))
        f.attrs["format"] = "analysis"
        f.attrs["preset"] = "matlab"


def write_dlc(tracks: Tracks, path: Path, scorer: str = "udmt") -> None:
    """Multi-animal DeepLabCut HDF5: columns scorer/individuals/bodyparts/coords, key ``df_with_missing``."""
    columns = pd.MultiIndex.from_product(
        [[scorer], tracks.individuals, [KEYPOINT], ["x", "y", "likelihood"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    data = np.concatenate([tracks.position, tracks.confidence[..., None]], axis=-1).astype(np.float64)
    frame = pd.DataFrame(data.reshape(tracks.n_frames, -1), index=_frames(tracks), columns=columns)
    frame.to_hdf(path, key="df_with_missing", format="table", mode="w")


def _idtracker_dict(tracks: Tracks) -> dict:
    """The subset of idtracker.ai's trajectories dict that we can fill honestly from a udmt store."""
    scene = tracks.attrs.get("scene")
    body_length = tracks.attrs.get("body_length_px", scene.get("body_length_px") if isinstance(scene, dict) else None)
    return {
        "trajectories": tracks.position.astype(np.float64),  # (frames, animals, 2), NaN where unknown
        "id_probabilities": tracks.confidence.astype(np.float64)[..., None],
        "frames_per_second": float(tracks.fps),
        "body_length": float(body_length) if body_length is not None else float("nan"),
        "video_paths": [_video_path(tracks)],
        "identities_labels": list(tracks.individuals),
        "version": f"udmt {__version__}",
    }


def write_idtracker(tracks: Tracks, path: Path) -> None:
    """idtracker.ai trajectories: ``.npy`` (a pickled dict, as idtracker.ai saves it) or ``.h5``."""
    data = _idtracker_dict(tracks)
    if path.suffix == ".npy":
        np.save(path, np.array(data, dtype=object), allow_pickle=True)
        return
    with h5py.File(path, "w") as f:  # idtracker.ai's h5 layout: arrays as datasets, the rest as attributes
        for key, value in data.items():
            if isinstance(value, np.ndarray):
                f.create_dataset(key, data=value, compression="gzip")
            else:
                f.attrs[key] = value


def write_behaviour(
    tracks: Tracks,
    path: Path,
    *,
    timeline: Path | None = None,
    proximity_px: float | None = None,
    min_duration_s: float = 0.0,
) -> list[Path]:
    """Per-frame (or per-timeline-time) position, speed and nearest neighbour; optional proximity events.

    With ``timeline`` (a CSV of times in seconds) everything is linearly resampled onto those times, e.g. to
    line tracks up with a neural recording. Proximity events go to ``<stem>_proximity.csv`` beside ``path``.
    """
    time = _frames(tracks) / tracks.fps
    position, speed = tracks.position, behaviour.speed(tracks.position, tracks.fps)
    columns: dict[str, np.ndarray] = {}
    if timeline is not None:
        target = behaviour.read_timeline(timeline)
        position, speed = behaviour.resample(time, position, target), behaviour.resample(time, speed, target)
        time = target
    else:
        columns["frame"] = _frames(tracks)
    n = len(tracks.individuals)
    nn_distance, nn_index = behaviour.nearest_neighbour(position)
    names = np.array([*tracks.individuals, ""], dtype=object)  # index -1 (no neighbour) → ""
    table = pd.DataFrame(
        {
            **{key: np.repeat(value, n) for key, value in columns.items()},
            "time": np.repeat(time, n),
            "individual": np.tile(np.array(tracks.individuals, dtype=object), len(time)),
            "x": position[..., 0].ravel(),
            "y": position[..., 1].ravel(),
            "speed_px_per_s": speed.ravel(),
            "nn_distance_px": nn_distance.ravel(),
            "nearest": names[nn_index.ravel()],
        }
    )
    table.to_csv(path, index=False)
    written = [path]
    if proximity_px is not None:
        events = behaviour.proximity_events(tracks.position, tracks.fps, proximity_px, min_duration_s)
        events_path = path.with_name(f"{path.stem}_proximity.csv")
        pd.DataFrame(
            {
                "individual_a": [tracks.individuals[e.a] for e in events],
                "individual_b": [tracks.individuals[e.b] for e in events],
                "start_frame": [e.start for e in events],
                "stop_frame": [e.stop for e in events],
                "start_s": [e.start / tracks.fps for e in events],
                "duration_s": [(e.stop - e.start) / tracks.fps for e in events],
                "min_distance_px": [e.min_distance_px for e in events],
            }
        ).to_csv(events_path, index=False)
        written.append(events_path)
    return written


FORMATS: dict[str, tuple[Callable[[Tracks, Path], None], tuple[str, ...]]] = {
    "csv": (write_csv, (".csv",)),
    "sleap": (write_sleap_analysis, (".h5",)),
    "dlc": (write_dlc, (".h5",)),
    "idtracker": (write_idtracker, (".npy", ".h5")),
}


def export_store(store: str | Path, fmt: str, out: str | Path, **behaviour_options: object) -> list[Path]:
    """Write the store ``store`` as ``fmt`` (a key of :data:`FORMATS` or ``behaviour``) to ``out``."""
    out = Path(out)
    suffixes = (".csv",) if fmt == "behaviour" else FORMATS[fmt][1] if fmt in FORMATS else None
    if suffixes is None:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join([*FORMATS, 'behaviour'])}")
    if out.suffix not in suffixes:
        raise UsageError(f"{out}: format {fmt} is written as {' or '.join(suffixes)}; change the file name")
    if not out.parent.is_dir():
        raise InputError(f"{out}: folder {out.parent} does not exist; create it first")
    tracks = read_tracks(store)
    if fmt == "behaviour":
        return write_behaviour(tracks, out, **behaviour_options)  # type: ignore[arg-type]
    FORMATS[fmt][0](tracks, out)
    return [out]
