"""``udmt slurm submit`` and ``udmt slurm status``: a run as dependent SLURM jobs, and where it stands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from udmt import pipeline
from udmt.cli.app import app
from udmt.cli.commands_track import Animals, ChunkFrames, Config, Init, Overlap, Seed, TrainSeconds, params_from_options
from udmt.errors import UsageError
from udmt.slurm import status as slurm_status
from udmt.slurm import submit as slurm_submit
from udmt.slurm.scripts import Resources

slurm_app = typer.Typer(
    help="Run on a SLURM cluster: train → one array task per chunk → stitch, as dependent jobs.",
    no_args_is_help=True,
)
app.add_typer(slurm_app, name="slurm")


Text = Optional[str]


@slurm_app.command()
def submit(
    paths: Annotated[list[Path], typer.Argument(help="Videos to track (with --resume: the run directory).", show_default=False)],
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Run directory (or OUT.zarr for one video).")] = None,
    animals: Animals = None,
    init: Init = None,
    config: Config = None,
    seed: Seed = None,
    train_seconds: TrainSeconds = None,
    chunk_frames: ChunkFrames = None,
    overlap: Overlap = None,
    partition: Annotated[Text, typer.Option("--partition", "-p", help="SLURM partition.")] = None,
    gpus: Annotated[Text, typer.Option("--gpus", help="GPUs per train/track job, e.g. 1 or a100:1.")] = None,
    cpus: Annotated[Optional[int], typer.Option("--cpus", help="CPUs per job; sizes the thread pools (default 1).")] = None,
    mem: Annotated[Text, typer.Option("--mem", help="Memory per job, e.g. 16G.")] = None,
    time: Annotated[Text, typer.Option("--time", "-t", help="Time limit per job, e.g. 02:00:00.")] = None,
    throttle: Annotated[Optional[int], typer.Option("--throttle", help="Most array tasks running at once.")] = None,
    container: Annotated[Optional[Path], typer.Option("--container", help="Run udmt inside this Apptainer image (.sif).")] = None,
    signal_seconds: Annotated[Optional[int], typer.Option(
        "--signal-seconds", help="Warn jobs this long before the time limit: they save their work and requeue (default 300)."
    )] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Plan the run and write its scripts; print them and the sbatch commands, submit nothing."
    )] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Resubmit only what is unfinished in an existing run.")] = False,
) -> None:
    """Plan the run, write its job scripts into RUN/slurm/ and submit train → array → stitch with dependencies."""
    if resume:
        runs = [*paths, *([out] if out else [])]
        if len(runs) != 1:
            raise UsageError("--resume takes one run directory: udmt slurm submit --resume RUN")
        fixed = (animals, init, config, seed, train_seconds, chunk_frames, overlap,
                 partition, gpus, cpus, mem, time, container, signal_seconds)  # fmt: skip
        if any(value is not None for value in fixed):
            raise UsageError("--resume reuses the run's plan and the scripts in RUN/slurm/: edit the scripts to change resources")
        prepared = slurm_submit.prepare_resume(runs[0].resolve(), throttle)
    else:
        if out is None:
            raise UsageError("give the run directory with -o RUN")
        if container is not None and not container.is_file():
            raise UsageError(f"{container}: container image not found")
        resources = Resources(partition, gpus, cpus or 1, mem, time, throttle, signal_seconds or 300).validate()
        params = params_from_options(config, seed, train_seconds, chunk_frames, overlap)
        run = pipeline.plan(paths, out, n_animals=animals, init=init, params=params)
        prepared = slurm_submit.prepare_new(run, resources, container)
    if not prepared.steps:
        typer.echo(f"{prepared.run_dir}: nothing left to do")
        return
    commands = slurm_submit.shell_commands(prepared.run_dir, prepared.steps)
    if dry_run:
        for path in prepared.scripts().values():
            typer.echo(f"# ---- {path}\n{path.read_text()}")
        typer.echo(f"# ---- submit with:\n{commands}", nl=False)
        return
    done = slurm_submit.submit_steps(prepared.run_dir, prepared.steps)
    typer.echo(" → ".join(f"{stage} {job_id}" for stage, job_id in done.jobs.items()))
    typer.echo(f"follow with: udmt slurm status {prepared.run_dir}")


@slurm_app.command()
def status(run_dir: Annotated[Path, typer.Argument(help="Run directory.", show_default=False)]) -> None:
    """Chunks done, running and failed, and the command that resubmits what failed."""
    typer.echo(slurm_status.describe(slurm_status.run_status(run_dir.resolve())))
