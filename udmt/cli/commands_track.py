"""Tracking commands: ``track`` (the whole job), its stages ``plan``/``train``/``run-task``/``stitch``, and ``demo``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from udmt import pipeline
from udmt.cli.app import app
from udmt.cli.progress_bar import progress_for
from udmt.errors import UsageError
from udmt.filters import engine_for
from udmt.params import Params, load_params

Videos = Annotated[list[Path], typer.Argument(help="Video file(s): anything FFmpeg reads (mp4, avi, mkv, …).")]
Animals = Annotated[Optional[int], typer.Option("-n", "--animals", help="Number of animals (automatic start).")]
Init = Annotated[Optional[Path], typer.Option("--init", help="CSV of x,y first positions, one row per animal.")]
Config = Annotated[Optional[Path], typer.Option("--config", help="TOML file of parameters (an \\[udmt] table of udmt.params.Params fields).")]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Seed of every random choice (default 0).")]
TrainSeconds = Annotated[Optional[float], typer.Option("--train-seconds", help="Wall-clock budget of training.")]
ChunkFrames = Annotated[Optional[int], typer.Option("--chunk-frames", help="Frames per chunk (multiple of 128).")]
Overlap = Annotated[Optional[int], typer.Option("--overlap", help="Frames shared by consecutive chunks.")]
Device = Annotated[str, typer.Option("--device", help="Where the tracker's features and filters run: auto (the GPU "
                                    "when this build and machine have one), cpu or cuda.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars (batch jobs).")]
RunDir = Annotated[Path, typer.Argument(help="Run directory written by `udmt plan` or `udmt track`.")]


def params_from_options(config: Path | None, seed: int | None, train_seconds: float | None, chunk_frames: int | None,
            overlap: int | None, no_train: bool = False, no_identities: bool = False, no_tune: bool = False) -> Params:
    return load_params(config, seed=seed, train_seconds=train_seconds, chunk_frames=chunk_frames,
                       overlap_frames=overlap, train_steps=0 if no_train else None,
                       identity_steps=0 if no_identities else None, tune=False if no_tune else None)


@app.command()
def track(
    videos: Videos,
    out: Annotated[Path, typer.Option("-o", "--out", help="OUT.zarr for one video, else a run directory.")],
    animals: Animals = None,
    init: Init = None,
    workers: Annotated[int, typer.Option("--workers", "-j", help="Chunk processes (default: SLURM_CPUS_PER_TASK or CPUs).")] = 0,
    device: Device = "auto",
    config: Config = None,
    seed: Seed = None,
    train_seconds: TrainSeconds = None,
    chunk_frames: ChunkFrames = None,
    overlap: Overlap = None,
    no_train: Annotated[bool, typer.Option("--no-train", help="Skip training (random features; for ablations).")] = False,
    no_identities: Annotated[bool, typer.Option("--no-identities", help="Keep identities by motion alone, without "
                                                "learning the animals' looks (for ablations).")] = False,
    no_tune: Annotated[bool, typer.Option("--no-tune", help="Keep the given tracking parameters instead of choosing "
                                          "them by forward–backward consistency (udmt.tune).")] = False,
    quiet: Quiet = False,
) -> None:
    """Track every animal in VIDEO(s): scene model → training → chunked tracking → stitched zarr store.

    Resumable: re-running the same command skips finished work. SIGTERM/SIGUSR1 stop cleanly with exit 75.
    """
    engine = engine_for(device)
    params = params_from_options(config, seed, train_seconds, chunk_frames, overlap, no_train, no_identities, no_tune)
    stores = pipeline.track(videos, out, n_animals=animals, init=init, params=params,
                            workers=workers or pipeline.default_workers(), progress=progress_for(quiet), engine=engine)
    for store in stores:
        typer.echo(str(store))


@app.command()
def plan(
    videos: Videos,
    out: Annotated[Path, typer.Option("-o", "--out", help="Run directory (or OUT.zarr for one video).")],
    animals: Animals = None,
    init: Init = None,
    config: Config = None,
    seed: Seed = None,
    train_seconds: TrainSeconds = None,
    chunk_frames: ChunkFrames = None,
    overlap: Overlap = None,
) -> None:
    """Write a run's manifest: videos, chunk plan, one task per (video, chunk). Prints the number of tasks."""
    params = params_from_options(config, seed, train_seconds, chunk_frames, overlap)
    run = pipeline.plan(videos, out, n_animals=animals, init=init, params=params)
    typer.echo(f"{run.directory}: {len(run.tasks)} task(s)")


@app.command()
def train(run_dir: RunDir, quiet: Quiet = False) -> None:
    """Scene model and feature net for every video of the run (skips those already trained)."""
    pipeline.train(pipeline.open_run(run_dir), progress_for(quiet))


@app.command("run-task")
def run_task(
    run_dir: RunDir,
    task: Annotated[Optional[int], typer.Option("--task", help="Task index (default: $SLURM_ARRAY_TASK_ID).")] = None,
    device: Device = "auto",
    quiet: Quiet = False,
) -> None:
    """Track one chunk of the run. Exit 0 when done or already done, 75 when stopped by a signal (requeue)."""
    if task is None:
        env = os.environ.get("SLURM_ARRAY_TASK_ID")
        if env is None:
            raise UsageError("give --task I (or run inside a SLURM array job)")
        task = int(env)
    stop = pipeline.StopFlag()
    stop.install()
    pipeline.run_task(pipeline.open_run(run_dir), task, should_stop=stop, progress=progress_for(quiet),
                      engine=engine_for(device))


@app.command()
def stitch(run_dir: RunDir, quiet: Quiet = False) -> None:
    """Link identities across chunks and write each video's store. Prints the store paths."""
    for store in pipeline.stitch(pipeline.open_run(run_dir), progress_for(quiet)):
        typer.echo(str(store))


@app.command()
def demo(
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for the demo's files.")] = Path("demo_output"),
    frames: Annotated[int, typer.Option("--frames", help="Length of the synthetic video.")] = 450,
    quiet: Quiet = False,
) -> None:
    """Make a 5-mouse synthetic video, track it, score it against its ground truth, draw the overlay and plots."""
    from udmt.demo import run_demo

    for line in run_demo(out, frames=frames, progress=progress_for(quiet)):
        typer.echo(line)
