"""Peer baselines scored like udmt: OpenCV's CSRT tracker and a background-subtraction + Hungarian blob tracker.

    .venv/bin/python benchmarks/baselines.py --synth mice,white-mice --real dreem_three_flies --frames 900

Both baselines start from the ground truth's frame-0 positions (udmt gets only the number of animals), so they
measure tracking, not initialisation. Synthetic scenes are rendered into ``--work`` as ``synth-<scenario>``
(the folders ``e2e_accuracy.py`` uses, reused when already rendered with the same frames and seed); real clips
come from ../shared/data/real. Scores come from :func:`udmt.evaluate.evaluate`, the scorer of ``udmt eval``.
Prints one markdown row per scene and tracker as each finishes (and all rows as JSON with ``--json``). Frames/s
is frames over the tracker's whole wall time: decoding, background model (blob) and tracking; "lost" counts the
animal-frames without a position (CSRT reports a failed update; the blob tracker always gives one).
CSRT needs opencv-contrib: ``pip install -e '.[bench]'`` (see the note in pyproject.toml).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from e2e_accuracy import REAL
from udmt.errors import InputError
from udmt.evaluate import GroundTruth, evaluate, read_ground_truth
from udmt.progress import SILENT, Progress
from udmt.synth import generate
from udmt.video import VideoReader

BACKGROUND_FRAMES = 50  # median background from this many frames spread through the video
_BACKGROUND_BYTES = 256 * 2**20  # … or fewer, so that the sampled frames stay under this


@dataclass(frozen=True)
class Clip:
    """One benchmark input: a video, its ground-truth CSV and the ``meta.json`` beside it."""

    name: str
    video: Path
    gt: Path
    meta: dict

    @property
    def body_lengths(self) -> np.ndarray:
        """Per-animal body length in px where the meta gives it (a rat among mice), else the common one."""
        common = float(self.meta["body_length_px"])
        return np.asarray(self.meta.get("body_lengths_px", [common] * self.meta["n_animals"]), dtype=np.float64)


def synth_clip(scenario: str, work: Path, frames: int, seed: int = 0) -> Clip:
    """The scene ``e2e_accuracy.py`` renders, reused if its folder already holds the same render.

    ``meta.json`` is written last by :func:`udmt.synth.generate`, so its presence means a complete video; reusing
    it also keeps this script from rewriting a video that a udmt run may be reading at the same time.
    """
    out = work / f"synth-{scenario}"
    meta_path = out / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if (meta.get("scenario"), meta.get("frames"), meta.get("seed")) != (scenario, frames, seed):
        generate(scenario, out, n_frames=frames, seed=seed)
        meta = json.loads(meta_path.read_text())
    return Clip(scenario, out / "video.mp4", out / "gt.csv", meta)


def real_clip(name: str, root: Path = REAL) -> Clip:
    """A real clip of ../shared/data/real, laid out as ``e2e_accuracy.py`` reads it."""
    meta = json.loads((root / name / "meta.json").read_text())
    return Clip(name, root / name / meta["video"], root / name / "gt.csv", meta)


def start_positions(truth: GroundTruth) -> np.ndarray:
    """Frame-0 ground-truth positions ``(N, 2)``: where both baselines begin."""
    first = truth.position[0]
    if np.isnan(first).any():
        raise InputError(f"{truth.path}: frame 0 lacks a position for some animal; the baselines start from frame 0")
    return first


# -- CSRT ---------------------------------------------------------------------------------------------------


def csrt_missing() -> str | None:
    """Why CSRT cannot run here, or None when ``cv2.TrackerCSRT`` exists."""
    try:
        import cv2
    except ImportError:
        return "OpenCV is not installed: pip install -e '.[bench]'"
    if not hasattr(cv2, "TrackerCSRT"):
        return ("cv2 lacks TrackerCSRT (opencv-contrib not installed or overwritten by opencv-python-headless): "
                "pip install --force-reinstall --no-deps opencv-contrib-python-headless==5.0.0.93")  # fmt: skip
    return None


def track_csrt(video: Path, start: np.ndarray, box_sides: np.ndarray, progress: Progress = SILENT) -> np.ndarray:
    """One CSRT tracker per animal, each on a square box of its body length centred on its start position.

    The frame's luma is given as BGR (what ``cv2.VideoCapture`` would hand a user). Positions are box centres in
    the pixel-centre convention; NaN in frames where CSRT reports a failed update.
    """
    import cv2

    sides = np.maximum(np.rint(box_sides), 4).astype(int)
    with VideoReader(video) as reader:
        n_frames = reader.n_frames
        position = np.full((n_frames, len(start), 2), np.nan)
        trackers = []
        progress.start(f"CSRT {video.name}", n_frames)
        for t, luma in reader.frames():
            frame = cv2.cvtColor(luma, cv2.COLOR_GRAY2BGR)
            if t == 0:
                for (x, y), side in zip(start, sides):
                    tracker = cv2.TrackerCSRT.create()
                    left = int(np.clip(round(x - (side - 1) / 2), 0, luma.shape[1] - side))
                    top = int(np.clip(round(y - (side - 1) / 2), 0, luma.shape[0] - side))
                    tracker.init(frame, (left, top, int(side), int(side)))
                    trackers.append(tracker)
                position[0] = start
            else:
                for i, tracker in enumerate(trackers):
                    ok, (left, top, w, h) = tracker.update(frame)
                    if ok:
                        position[t, i] = (left + (w - 1) / 2, top + (h - 1) / 2)
            progress.advance()
        progress.stop()
    return position


# -- background subtraction + Hungarian ---------------------------------------------------------------------


def median_background(reader: VideoReader) -> np.ndarray:
    """Per-pixel median of frames spread evenly through the video (moving animals drop out of it)."""
    frame_bytes = reader.width * reader.height
    count = max(1, min(BACKGROUND_FRAMES, reader.n_frames, _BACKGROUND_BYTES // frame_bytes))
    wanted = set(np.linspace(0, reader.n_frames - 1, count).round().astype(int).tolist())
    sampled = np.stack([frame for t, frame in reader.frames() if t in wanted])
    return np.median(sampled, axis=0).astype(np.float32)


@dataclass(frozen=True)
class BlobModel:
    """What the blob tracker segments with; calibrated once from the background and the frame-0 truth."""

    background: np.ndarray  # (H, W) float32
    polarity: float  # +1: animals brighter than the background, −1: darker
    threshold: float  # foreground where polarity·(frame − background) > threshold
    min_area: float  # px; smaller components are noise

    def centroids(self, frame: np.ndarray) -> np.ndarray:
        """Centroids ``(K, 2)`` of the foreground components of at least ``min_area`` pixels."""
        mask = (frame.astype(np.float32) - self.background) * self.polarity > self.threshold
        labels, count = ndimage.label(mask)
        if count == 0:
            return np.zeros((0, 2))
        areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        keep = np.flatnonzero(areas >= self.min_area) + 1
        if keep.size == 0:
            return np.zeros((0, 2))
        yx = np.asarray(ndimage.center_of_mass(mask, labels, keep), dtype=np.float64).reshape(-1, 2)
        return yx[:, ::-1]


def calibrate(background: np.ndarray, first: np.ndarray, start: np.ndarray, body_length: float) -> BlobModel:
    """Polarity and threshold from frame 0: the animals' contrast near their true positions against the floor noise.

    Each animal's contrast is the strongest 3×3-smoothed difference within half a body length of its position
    (its darkest or brightest part); polarity is the sign and the threshold half the magnitude of the median
    over animals, and at least 4 robust sigmas of the whole difference image. The median keeps the estimate
    sane when a few animals sat still long enough to be part of the median background.
    """
    diff = ndimage.uniform_filter(first.astype(np.float32) - background, size=3)
    reach = max(1, int(body_length / 2))
    strongest = []
    for x, y in np.rint(start).astype(int):
        window = diff[max(y - reach, 0) : y + reach + 1, max(x - reach, 0) : x + reach + 1]
        strongest.append(window.flat[np.argmax(np.abs(window))])
    contrast = float(np.median(strongest))
    noise = 1.4826 * float(np.median(np.abs(diff - np.median(diff))))
    threshold = max(0.5 * abs(contrast), 4.0 * noise, 1.0)
    return BlobModel(background, 1.0 if contrast > 0 else -1.0, threshold, min_area=(body_length / 6) ** 2)


def assign(previous: np.ndarray, candidates: np.ndarray, gate: float) -> np.ndarray:
    """Each track's new position: a Hungarian match to a candidate within ``gate`` px of where it was; then the
    tracks left over take the candidates left over at any distance (the count is known, so a free blob is a
    lost animal); a track with nothing left stays where it was (merged into a neighbour's blob, or missed)."""
    nxt = previous.copy()
    distance = np.linalg.norm(previous[:, None, :] - candidates[None, :, :], axis=-1)
    free_tracks, free_candidates = np.arange(len(previous)), np.arange(len(candidates))
    for limit in (gate, np.inf):
        sub = distance[np.ix_(free_tracks, free_candidates)]
        rows, cols = linear_sum_assignment(np.where(sub <= limit, sub, 1e9))
        ok = sub[rows, cols] <= limit
        nxt[free_tracks[rows[ok]]] = candidates[free_candidates[cols[ok]]]
        free_tracks = np.delete(free_tracks, rows[ok])
        free_candidates = np.delete(free_candidates, cols[ok])
    return nxt


def track_blobs(video: Path, start: np.ndarray, body_length: float, gate_body_lengths: float = 1.0,
                progress: Progress = SILENT) -> np.ndarray:  # fmt: skip
    """Median background, threshold, connected components, and Hungarian assignment to the last positions.

    Matching is gated at ``gate_body_lengths`` body lengths, then ungated for what is left (see :func:`assign`);
    positions are never NaN.
    """
    with VideoReader(video) as reader:
        background = median_background(reader)
        position = np.full((reader.n_frames, len(start), 2), np.nan)
        model: BlobModel | None = None
        progress.start(f"blobs {video.name}", reader.n_frames)
        for t, frame in reader.frames():
            if model is None:
                model = calibrate(background, frame, start, body_length)
                position[0] = start
            else:
                position[t] = assign(position[t - 1], model.centroids(frame), gate_body_lengths * body_length)
            progress.advance()
        progress.stop()
    return position


# -- the benchmark ------------------------------------------------------------------------------------------

TRACKERS: dict[str, Callable[[Clip, np.ndarray], np.ndarray]] = {
    "csrt": lambda clip, start: track_csrt(clip.video, start, clip.body_lengths),
    "blobs": lambda clip, start: track_blobs(clip.video, start, float(clip.meta["body_length_px"])),
}


def measure(clip: Clip, tracker: str) -> dict:
    """Run one baseline on one clip and score it against the clip's ground truth."""
    truth = read_ground_truth(clip.gt)
    start = start_positions(truth)
    began = time.monotonic()
    position = TRACKERS[tracker](clip, start)
    seconds = time.monotonic() - began
    metrics = evaluate(position, truth.position, float(clip.meta["match_radius_px"]))
    return {"scene": clip.name, "tracker": tracker, "animals": len(start), "frames": len(position),
            "idf1": metrics.idf1, "hota": metrics.hota, "mota": metrics.mota, "id_switches": metrics.id_switches,
            "lost": int(np.isnan(position).any(-1).sum()), "seconds": seconds, "fps": len(position) / seconds}  # fmt: skip


HEADER = ("| scene | tracker | animals | frames | IDF1 | HOTA | MOTA | ID sw. | lost | frames/s |\n"
          "|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip


def markdown_row(r: dict) -> str:
    return (f"| {r['scene']} | {r['tracker']} | {r['animals']} | {r['frames']} | {r['idf1']:.3f} | {r['hota']:.3f} "
            f"| {r['mota']:.3f} | {r['id_switches']} | {r['lost']} | {r['fps']:.1f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth", default="mice", help="comma-separated udmt synth scenarios")
    parser.add_argument("--real", default="", help="comma-separated folders of ../shared/data/real")
    parser.add_argument("--frames", type=int, default=900)
    parser.add_argument("--trackers", default="blobs,csrt", help=f"comma-separated, of {', '.join(TRACKERS)}")
    parser.add_argument("--work", type=Path, default=Path("runs/bench"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    trackers = [t for t in args.trackers.split(",") if t]
    unknown = sorted(set(trackers) - set(TRACKERS))
    if unknown:
        parser.error(f"unknown trackers {unknown}; choose from {', '.join(TRACKERS)}")
    if "csrt" in trackers and (reason := csrt_missing()):
        parser.error(f"csrt: {reason}")
    clips = [synth_clip(s, args.work, args.frames) for s in filter(None, args.synth.split(","))]
    clips += [real_clip(c) for c in filter(None, args.real.split(","))]
    print(HEADER, flush=True)
    rows = []
    for clip in clips:
        for tracker in trackers:
            rows.append(measure(clip, tracker))
            print(markdown_row(rows[-1]), flush=True)  # row by row: CSRT on a long clip takes minutes
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
