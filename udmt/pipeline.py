"""Orchestration: the run directory, the chunk plan, training once per video, chunk tasks, stitching.

The same four stages run in one process, in local worker processes (``udmt track --workers K``) or as
SLURM jobs (``udmt.slurm``): ``plan`` → ``train`` → ``run_task`` (one per (video, chunk)) → ``stitch``.
Every stage is idempotent: finished work is recognised and skipped, so a killed or requeued job resumes.
A chunk's result appears by an atomic rename, which is also its "done" mark.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import resource
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import torch

import udmt
from udmt import quality, store, tune
from udmt.appearance import IdentityNet
from udmt.errors import InputError, InputWarning, Interrupted, UdmtError, UsageError, writing
from udmt.filters import Engine
from udmt.individuals import IdentityReport, train_identity
from udmt.initialise import read_points
from udmt.model import Checkpoint, FeatureNet, load_checkpoint
from udmt.params import Params, params_to_toml
from udmt.progress import SILENT, Progress
from udmt.scene import Scene, estimate_scene
from udmt.stitch import link_chunks
from udmt.track import ChunkTracks, track_chunk
from udmt.train import TrainReport, train_feature_net, training_frames
from udmt.video import VideoReader

MANIFEST = "manifest.json"
MANIFEST_VERSION = 3  # 2: chunk files carry the forward-backward check; 3: models carry tuned parameters
T = TypeVar("T")
KEPT_FRAME_BYTES = 256 * 2**20  # training frames held from the scene model's reading, at most


# ---------------------------------------------------------------------------------------------------------
# Run layout and plan


@dataclass(frozen=True)
class Run:
    """A run directory and its manifest (docs/ARCHITECTURE.md, "Run layout")."""

    directory: Path
    manifest: dict[str, Any]

    @property
    def params(self) -> Params:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in self.manifest["params"].items()}
        try:
            return Params(**values)
        except TypeError:
            raise UsageError(f"{self.directory}: planned by another udmt version ({self.manifest.get('udmt_version')});"
                             " plan the run again in a new directory") from None

    @property
    def videos(self) -> list[dict[str, Any]]:
        return self.manifest["videos"]

    @property
    def tasks(self) -> list[dict[str, Any]]:
        return self.manifest["tasks"]

    def model_path(self, key: str) -> Path:
        return self.directory / "models" / f"{key}.pt"

    def chunk_path(self, key: str, chunk: int) -> Path:
        return self.directory / "chunks" / key / f"{chunk:05d}.npz"

    def task_done(self, task: dict[str, Any]) -> bool:
        """A task is done when its chunk file exists: the atomic rename that writes it is the mark."""
        return self.chunk_path(task["video"], task["chunk"]).exists()

    def task_report_path(self, index: int) -> Path:
        return self.directory / "tasks" / f"{index}.json"

    def video(self, key: str) -> dict[str, Any]:
        return next(v for v in self.videos if v["key"] == key)


def chunk_bounds(n_frames: int, params: Params) -> list[tuple[int, int]]:
    """[start, stop) of each chunk: as few chunks as ``chunk_frames`` allows, of one size rounded up to a multiple of
    the store's time chunk, so that chunks run in parallel finish together (1500 frames: 768 + 732, not 1024 + 476);
    a short tail joins the last chunk."""
    count = max(1, math.ceil(n_frames / params.chunk_frames))
    size = max(1, math.ceil(n_frames / count / params.time_chunk)) * params.time_chunk
    starts = list(range(0, n_frames, size))
    if len(starts) > 1 and n_frames - starts[-1] < size // 4:
        starts.pop()
    return [(s, starts[i + 1] if i + 1 < len(starts) else n_frames) for i, s in enumerate(starts)]


def resolve_outputs(videos: Sequence[Path], out: Path) -> tuple[Path, list[Path]]:
    """Run directory and store path per video (one video and ``OUT.zarr``: the store is OUT.zarr)."""
    if len(videos) == 1 and out.suffix == ".zarr":
        return out.with_suffix(".udmt-run"), [out]
    stems = [v.stem for v in videos]
    if len(set(stems)) < len(stems):  # same file name in different folders
        stems = [f"{i:03d}-{s}" for i, s in enumerate(stems)]
    return out, [out / f"{s}.zarr" for s in stems]


def plan(
    videos: Sequence[Path], out: Path, *, n_animals: int | None, init: Path | None, params: Params
) -> Run:
    """Write (or re-open, when identical) the manifest of a run; refuse to mix two different runs."""
    if not videos:
        raise UsageError("give at least one video")
    if n_animals is None and init is None:
        raise UsageError("give the number of animals (-n N) or their first positions (--init points.csv)")
    run_dir, stores = resolve_outputs([Path(v) for v in videos], Path(out))
    entries, tasks = [], []
    for i, (video, store_path) in enumerate(zip(videos, stores)):
        with VideoReader(Path(video).resolve()) as reader:  # the path the later stages name in messages
            digest = reader.content_hash()
            store.check_replaceable(store_path, video_hash=digest)  # refuse before hours of work
            readable = reader.readable_frames  # a file cut short is tracked up to where it ends
            _check_length(reader.path, readable, params)
            points = read_points(init, reader.width, reader.height).tolist() if init else None
            count = len(points) if points is not None else int(n_animals)  # type: ignore[arg-type]
            if count < 1:
                raise UsageError(f"the number of animals must be at least 1, got {count}")
            key = f"v{i:03d}"
            entries.append(
                {
                    "key": key,
                    "path": str(Path(video).resolve()),
                    "store": str(Path(store_path).resolve()),
                    "hash": digest,
                    "n_frames": reader.n_frames,
                    "truncated_at": reader.truncated_at,
                    "fps": reader.fps,
                    "width": reader.width,
                    "height": reader.height,
                    "n_animals": count,
                    "init_points": points,
                }
            )
            for c, (start, stop) in enumerate(chunk_bounds(readable, params)):
                tasks.append({"index": len(tasks), "video": key, "chunk": c, "start": start, "stop": stop})
    manifest = {
        "version": MANIFEST_VERSION,
        "udmt_version": udmt.__version__,
        "params": params.as_dict(),
        "videos": entries,
        "tasks": tasks,
    }
    path = run_dir / MANIFEST
    if path.exists() and _holds_work(run_dir):
        existing = json.loads(path.read_text())
        _check_version(run_dir, existing)
        if {k: existing.get(k) for k in ("params", "videos", "tasks")} != {k: manifest[k] for k in ("params", "videos", "tasks")}:
            raise UsageError(f"{run_dir} holds a different run (other videos or parameters); choose another output")
        return Run(run_dir, existing)
    # A new run, or one in which nothing was trained or tracked yet (say it stopped at a wrong -n): (re)write
    # the plan, under the training lock so that no training of an older plan is under way.
    with writing(run_dir):
        for sub in ("models", "chunks", "tasks", "logs"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        with exclusive(run_dir / "train.lock", f"training of {run_dir}"):
            _atomic_write(run_dir / "params.toml", params_to_toml(params))
            _atomic_write(path, json.dumps(manifest, indent=1))
    return Run(run_dir, manifest)


def _holds_work(run_dir: Path) -> bool:
    """Whether any stage has finished something in this run directory (a model or a tracked chunk)."""
    return any((run_dir / "models").glob("*.pt")) or any((run_dir / "chunks").glob("*/*.npz"))


def _check_length(video: Path, frames: int, params: Params) -> None:
    """Refuse a video too short for one training cycle (t → … → t + max(train_cycle)): nothing could be learned."""
    need = max(params.train_cycle) + 1
    if frames < need:
        raise InputError(f"{video}: only {frames} readable frame(s); udmt needs at least {need} (one training cycle "
                         f"spans {need} frames); give a longer recording")  # fmt: skip


def _check_version(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Refuse a run planned by another udmt version: its finished chunks must not mix with this version's."""
    if manifest.get("udmt_version") != udmt.__version__ or manifest.get("version") != MANIFEST_VERSION:
        raise UsageError(f"{run_dir}: planned by udmt {manifest.get('udmt_version')} (run format {manifest.get('version')}), "
                         f"this is udmt {udmt.__version__} (run format {MANIFEST_VERSION}); results of two versions "
                         "must not mix: track into a new output")  # fmt: skip


def open_run(run_dir: Path) -> Run:
    path = Path(run_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{run_dir}: not a udmt run directory (no {MANIFEST}); create it with `udmt plan`") from None
    except json.JSONDecodeError:
        raise UsageError(f"{path}: corrupt manifest; re-create the run with `udmt plan`") from None
    _check_version(Path(run_dir), manifest)
    return Run(Path(run_dir), manifest)


@contextmanager
def exclusive(lock: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``lock`` (created if needed) or refuse at once: two processes never work on the
    same run, task or store at the same time."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"{what} is being processed by another udmt process; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------------------
# Stages


def train(run: Run, progress: Progress = SILENT) -> None:
    """Scene model and feature net for every video of the run that has none yet."""
    with writing(run.directory), exclusive(run.directory / "train.lock", f"training of {run.directory}"):
        _train_locked(run, progress)


def _train_locked(run: Run, progress: Progress) -> None:
    params = run.params
    for video in run.videos:
        path = run.model_path(video["key"])
        if path.exists():
            continue
        torch.set_num_threads(params.train_threads)  # float sums depend on it: same count, same model anywhere
        with VideoReader(video["path"]) as reader:
            reader.keep(training_frames(reader.n_frames, params), KEPT_FRAME_BYTES)  # decoded once, by the scene model
            scene = estimate_scene(reader, video["n_animals"], params, progress)
            identity = _InBackground(partial(_learn_identities, video["path"], scene, params))
            net, report, tuning = _InBackground(partial(_learn_features, reader, scene, params, progress)).result()
            if not identity.done():
                progress.start("learning identities", None)
            identities, identity_report = identity.result()
            progress.stop()
        info = {"scene": scene.to_state(), "video_hash": video["hash"], "train": report.__dict__,
                "identity": identity_report.__dict__, "tuning": tuning.to_info() if tuning else None}
        Checkpoint(net, info, identities).save(path)


def _learn_features(reader: VideoReader, scene: Scene, params: Params, progress: Progress
                    ) -> tuple[FeatureNet, TrainReport, tune.TuningReport | None]:  # fmt: skip
    net, report = train_feature_net(reader, scene, params, progress)
    tuning = tune.tune(reader, scene, net, params, reader.readable_frames, progress)[1] if params.tune else None
    return net, report, tuning


def _learn_identities(path: str, scene: Scene, params: Params) -> tuple[IdentityNet | None, IdentityReport]:
    with VideoReader(path) as reader:  # a reader of its own: the feature net's training reads the same video
        return train_identity(reader, scene, params)


class _InBackground(Generic[T]):
    """``work()`` in a daemon thread: torch's operators release the GIL, so the identity net trains while the
    feature net does (sleap clip, two cores: the train stage 25 s, 35 s one after the other). An interrupted run
    exits without waiting for it.

    Both trainings run in threads of their own, not in the main thread: libgomp frees a thread's OpenMP workers
    when the thread ends, but keeps the main thread's. Left idle beside a running team, they make libgomp count more
    threads than cores and stop spinning at barriers, and then every parallel region goes through the kernel. On
    the 8-fish scene, the identity net took 105 s after the feature net had trained in the main thread for only
    12 s, 65 s when that net trained in a thread, and 56 s alone."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._outcome: tuple[T | None, BaseException | None] = (None, None)
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], T]) -> None:
        try:
            self._outcome = (work(), None)
        except BaseException as error:  # handed to the caller by result()
            self._outcome = (None, error)

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> T:
        """The work's value, once it is finished; its error is raised here."""
        self._thread.join()
        value, error = self._outcome
        if error is not None:
            raise error
        return value  # type: ignore[return-value]  # set by _run


def _load_model(run: Run, key: str) -> tuple[Checkpoint, Scene, str]:
    path = run.model_path(key)
    if not path.exists():
        raise UsageError(f"{path}: no trained model yet; run `udmt train {run.directory}` first")
    checkpoint, checksum = load_checkpoint(path)
    return checkpoint, Scene.from_state(checkpoint.info["scene"]), checksum


def _tracking_params(run: Run, checkpoint: Checkpoint) -> Params:
    """The run's parameters with the values tuning chose for this video (``udmt.tune``)."""
    return run.params.replace(**(checkpoint.info.get("tuning") or {}).get("chosen", {}))


def run_task(run: Run, index: int, *, should_stop: Callable[[], bool] = lambda: False, progress: Progress = SILENT,
             engine: Engine = "kernels") -> bool:
    """Track one (video, chunk) with the appearance model on ``engine``; False when it was already done. Writes a
    per-task JSON report."""
    if not 0 <= index < len(run.tasks):
        raise UsageError(f"task {index} does not exist: this run has tasks 0–{len(run.tasks) - 1}")
    with writing(run.directory), exclusive(run.directory / "tasks" / f"{index}.lock", f"task {index} of {run.directory}"):
        return _run_task_locked(run, index, should_stop, progress, engine)


def _run_task_locked(run: Run, index: int, should_stop: Callable[[], bool], progress: Progress, engine: Engine) -> bool:
    task = run.tasks[index]
    if run.task_done(task):
        return False
    out = run.chunk_path(task["video"], task["chunk"])
    video = run.video(task["video"])
    checkpoint, scene, _ = _load_model(run, task["video"])
    params = _tracking_params(run, checkpoint)
    stop = min(task["stop"] + params.overlap_frames, video["n_frames"])
    initial = np.array(video["init_points"]) if video["init_points"] and task["start"] == 0 else None
    began = time.monotonic()
    report_path = run.task_report_path(index)  # its folder exists: the task's lock lives there
    _atomic_write(report_path, json.dumps({"task": index, "status": "running", "pid": os.getpid(), "started": time.time()}))
    torch.set_num_threads(1)  # chunks are the parallelism; one thread also makes results bit-reproducible
    try:
        with VideoReader(video["path"]) as reader:
            tracks = track_chunk(reader, scene, checkpoint.net, params, task["start"], stop, initial=initial,
                                 identities=checkpoint.identities, should_stop=should_stop, progress=progress,
                                 engine=engine)
            tracks.forward_backward = quality.forward_backward_errors(reader, scene, checkpoint.net, params, tracks,
                                                                      engine=engine)
    except Interrupted:
        _atomic_write(report_path, json.dumps({"task": index, "status": "interrupted", "stopped": time.time()}))
        raise
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.npz")
    identified = {} if tracks.start_identity is None else {"start_identity": tracks.start_identity}
    try:
        np.savez(tmp, start=tracks.start, position=tracks.position, confidence=tracks.confidence, flags=tracks.flags,
                 start_frame=tracks.start_frame, identity_changes=tracks.identity_changes,
                 identity_votes=np.array(tracks.identity_votes), forward_backward=tracks.forward_backward, **identified)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)  # only left when the write failed (e.g. disk full)
    seconds = time.monotonic() - began
    frames = stop - task["start"]
    report = {"task": index, "status": "done", "video": task["video"], "chunk": task["chunk"], "frames": frames,
              "engine": engine,
              "seconds": round(seconds, 3), "fps": round(frames / max(seconds, 1e-9), 2),
              "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    _atomic_write(report_path, json.dumps(report))
    return True


def _load_chunk(path: Path) -> ChunkTracks:
    with np.load(path) as data:
        start_identity = data["start_identity"] if "start_identity" in data else None
        return ChunkTracks(int(data["start"]), data["position"], data["confidence"], data["flags"],
                           int(data["start_frame"]), start_identity, int(data["identity_changes"]),
                           tuple(int(v) for v in data["identity_votes"]), data["forward_backward"])


def stitch(run: Run, progress: Progress = SILENT) -> list[Path]:
    """Link chunk identities across overlaps and write each video's store (atomically, complete or absent)."""
    with writing(run.directory), exclusive(run.directory / "stitch.lock", f"stitching of {run.directory}"):
        return _stitch_locked(run, progress)


def _stitch_locked(run: Run, progress: Progress) -> list[Path]:
    params = run.params
    written = []
    for video in run.videos:
        tasks = [t for t in run.tasks if t["video"] == video["key"]]
        missing = [t["index"] for t in tasks if not run.task_done(t)]
        if missing:
            raise UdmtError(f"{video['path']}: tasks {missing} are not done; run them (`udmt run-task`) before stitching")
        checkpoint, scene, checksum = _load_model(run, video["key"])
        final = Path(video["store"])
        tmp = final.with_name(f".{final.name}.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        n = video["n_animals"]
        names = [f"animal_{i}" for i in range(n)]
        with VideoReader(video["path"]) as reader:  # the video's own clock (exact for variable frame rate)
            times = reader.frame_times()[: video["n_frames"]]
        store.create_store(tmp, n_frames=video["n_frames"], individuals=names, fps=video["fps"],
                           time_chunk=params.time_chunk, attrs={}, overwrite=True, times=times)
        progress.start(f"stitching {Path(video['path']).name}", len(tasks))
        order = np.arange(n)  # output animal of each chunk column
        identified = False  # the chunks' columns are the identity net's identities (then ``order`` maps them)
        links, previous, totals, changes, votes = [], None, np.zeros(len(_QC_FLAGS) + 2), 0, np.zeros(2, int)
        checks = []
        for t in tasks:
            chunk = _load_chunk(run.chunk_path(video["key"], t["chunk"]))
            changes += chunk.identity_changes
            votes += chunk.identity_votes
            checks.append(chunk.forward_backward.ravel())
            if previous is None and chunk.start_identity is not None:
                order[chunk.start_identity] = np.arange(n)  # the first chunk's initial tracks name the animals
                identified = True
            if previous is not None:
                link = link_chunks(previous, chunk, scene.body_length)
                identified = chunk.start_identity is not None  # columns are learned identities: no relinking
                if not identified:
                    order = order[link.previous_of]
                links.append({"frame": t["start"], "cost_px": link.cost.tolist(), "margin": link.margin.tolist(),
                              "low_margin": bool(link.low_margin),
                              "overlap_agrees": bool((link.previous_of == np.arange(n)).all()) if identified else None})
            keep = (video["n_frames"] if t is tasks[-1] else t["stop"]) - t["start"]  # last: to the video's end
            rows = min(keep, len(chunk.position))  # fewer after the damage of a truncated video
            position = np.full((keep, n, 2), np.nan, np.float32)
            confidence = np.zeros((keep, n), np.float32)
            flags = np.zeros((keep, n), np.uint8)
            position[:rows, order] = chunk.position[:rows]
            confidence[:rows, order] = chunk.confidence[:rows]
            flags[:rows, order] = chunk.flags[:rows]
            store.write_block(tmp, t["start"], position, confidence, flags)
            totals += _qc_counts(flags, confidence)
            previous = chunk
            progress.advance()
        progress.stop()
        attrs = {
            "video_path": video["path"], "video_hash": video["hash"], "n_frames": video["n_frames"],
            "width": video["width"], "height": video["height"], "video_truncated_at": video["truncated_at"],
            "model_checksum": checksum, "params": _tracking_params(run, checkpoint).as_dict(),
            "tuning": checkpoint.info.get("tuning"), "scene": scene.to_attrs(),
            "training": checkpoint.info.get("train", {}),
            "identity_model": _identity_attrs(checkpoint.info.get("identity", {}), order if identified else None,
                                              names),
            "chunk_plan": [{"start": t["start"], "stop": t["stop"]} for t in tasks], "stitch_links": links,
            "qc": {**_qc_summary(totals, video["n_frames"] * n), "identity_changes": changes,
                   # unsupervised identity quality: how often a crop's likeliest identity is the one it was given
                   "identity_agreement": round(votes[0] / votes[1], 4) if votes[1] else None,
                   "forward_backward": quality.summary(np.concatenate(checks), scene.body_length)},
        }
        store.update_attrs(tmp, **attrs)
        if final.exists():
            store.check_replaceable(final, video_hash=video["hash"])  # never delete another video's result
            shutil.rmtree(final)
        tmp.replace(final)
        written.append(final)
    return written


def _identity_attrs(report: dict[str, Any], animal_of: np.ndarray | None, names: list[str]) -> dict[str, Any]:
    """The identity report with its per-identity figures given by output animal (``animal_of``: each identity's);
    without them where the tracks were not named by the net, as its identities are then no animal's."""
    recall = report.get("held_out_recall", ())
    attrs = {k: v for k, v in report.items() if k not in ("held_out_recall", "look_alikes", "merged")}
    if animal_of is None or len(recall) != len(names):
        return attrs
    attrs["held_out_recall"] = {names[animal_of[k]]: r for k, r in enumerate(recall)}
    attrs["look_alikes"] = [[names[animal_of[a]], names[animal_of[b]]] for a, b in report.get("look_alikes", ())]
    attrs["merged"] = [names[animal_of[k]] for k in report.get("merged", ())]
    return attrs


_QC_FLAGS = {"merged": store.FLAG_MERGED, "lost": store.FLAG_LOST, "corrected": store.FLAG_CORRECTED}


def _qc_counts(flags: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Per-block counts that add up over chunks: flagged cells, low-confidence cells, summed confidence."""
    flagged = [np.count_nonzero(flags & bit) for bit in _QC_FLAGS.values()]
    return np.array([*flagged, np.count_nonzero(confidence < 0.5), float(confidence.sum())])


def _qc_summary(totals: np.ndarray, cells: int) -> dict[str, float]:
    *flagged, low, conf = totals
    summary = {f"fraction_{name}": round(count / cells, 4) for name, count in zip(_QC_FLAGS, flagged)}
    summary.update(fraction_low_confidence=round(low / cells, 4), mean_confidence=round(conf / cells, 4),
                   corrected_cells=int(flagged[2]))
    return summary


# ---------------------------------------------------------------------------------------------------------
# Local execution


class StopFlag:
    """Set by SIGTERM/SIGUSR1 (SLURM's warning before the time limit); polled between frames."""

    def __init__(self) -> None:
        self.raised = False

    def __call__(self) -> bool:
        return self.raised

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.raised = True


def _worker_init() -> None:
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", InputWarning)  # damaged inputs were reported once, when the run was planned
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_task(run_dir: str, index: int, engine: Engine) -> int:
    flag = StopFlag()
    flag.install()
    run_task(open_run(Path(run_dir)), index, should_stop=flag, engine=engine)
    return index


def default_workers() -> int:
    """SLURM's allocation when inside a job, else the CPUs this process may use."""
    if os.environ.get("SLURM_CPUS_PER_TASK"):
        return max(1, int(os.environ["SLURM_CPUS_PER_TASK"]))
    return max(1, len(os.sched_getaffinity(0)))


def run_tasks(run: Run, workers: int, stop: StopFlag, progress: Progress = SILENT, engine: Engine = "kernels") -> None:
    """Every unfinished task, in ``workers`` processes (in this process when 1); with the ``cuda`` engine the
    processes share the GPU."""
    pending = [t["index"] for t in run.tasks if not run.task_done(t)]
    frames = {t["index"]: t["stop"] - t["start"] for t in run.tasks}
    description = f"tracking {len(pending)} chunk(s) with {workers} worker(s)"
    if workers <= 1 or len(pending) <= 1:
        progress.start(description, sum(frames[i] for i in pending))
        for index in pending:
            run_task(run, index, should_stop=stop, engine=engine)
            progress.advance(frames[index])
        progress.stop()
        return
    # Forked workers start at once, with torch, udmt and the models already loaded; spawned ones spend seconds
    # importing them (sleap clip, two chunks: tracking 9.4 s against 14.1 s). A forked child cannot use CUDA.
    context = get_context("spawn" if engine == "cuda" else "fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init) as pool:
        futures = {pool.submit(_worker_task, str(run.directory), i, engine): i for i in pending}
        progress.start(description, sum(frames[i] for i in pending))  # after the fork: the bar runs a thread
        remaining = set(futures)
        while remaining:
            done, remaining = wait(remaining, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # re-raises a worker's error here
                progress.advance(frames[futures[future]])
            if stop.raised:
                for future in remaining:
                    future.cancel()
                raise Interrupted("stopped by signal; finished chunks are kept, re-run the same command to resume")
    progress.stop()


def track(
    videos: Sequence[Path],
    out: Path,
    *,
    n_animals: int | None,
    init: Path | None,
    params: Params,
    workers: int,
    progress: Progress = SILENT,
    engine: Engine = "kernels",
) -> list[Path]:
    """The whole job on this machine: plan → train → chunks in ``workers`` processes → stitch. Resumable."""
    stop = StopFlag()
    stop.install()
    run = plan(videos, out, n_animals=n_animals, init=init, params=params)
    with exclusive(run.directory / "run.lock", f"run {run.directory}"):
        train(run, progress)
        if stop.raised:
            raise Interrupted("stopped by signal after training; re-run the same command to resume")
        run_tasks(run, workers, stop, progress, engine)
        return stitch(run, progress)
