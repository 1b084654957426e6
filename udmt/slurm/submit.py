"""Submit a run as dependent SLURM jobs (train → chunk array → stitch) and remember their ids.

Job scripts are written once into ``RUN/slurm/`` and are the source of truth afterwards: a resubmission
(``--resume``) sends the same, possibly hand-edited, scripts again, and only the array range and the
dependencies (which change every time) go on the sbatch command line.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from udmt.errors import UsageError
from udmt.pipeline import Run
from udmt.slurm import client
from udmt.slurm.jobs import Submission, load_submissions, record_submission
from udmt.slurm.status import run_status
from udmt.slurm.scripts import LOG_DIR, SCRIPT_DIR, STAGES, Resources, array_spec, launcher, render_script


@dataclass(frozen=True)
class Step:
    """One sbatch call: a stage's script, the stage it waits for (``afterok``) and, for the array, its tasks."""

    stage: str
    after: str | None = None
    tasks: tuple[int, ...] = ()
    throttle: int | None = None

    def arguments(self, job_ids: dict[str, str]) -> list[str]:
        """The sbatch arguments, given the ids of the stages already submitted."""
        depend = [f"--dependency=afterok:{job_ids[self.after]}", "--kill-on-invalid-dep=yes"] if self.after else []
        array = [f"--array={array_spec(self.tasks, self.throttle)}"] if self.tasks else []
        return [*depend, *array, f"{SCRIPT_DIR}/{self.stage}.sbatch"]


def plan_steps(*, train: bool, tasks: list[int], throttle: int | None) -> list[Step]:
    """The chain for what is left to do; stitch always runs last, after whatever else runs."""
    steps = [Step("train")] if train else []
    if tasks:
        steps.append(Step("track", steps[-1].stage if steps else None, tuple(tasks), throttle))
    steps.append(Step("stitch", steps[-1].stage if steps else None))
    return steps


def write_scripts(run_dir: Path, resources: Resources, container: Path | None) -> dict[str, Path]:
    """Render the three stage scripts into ``RUN/slurm/`` and make ``RUN/logs/`` for their output."""
    (run_dir / SCRIPT_DIR).mkdir(parents=True, exist_ok=True)
    (run_dir / LOG_DIR).mkdir(exist_ok=True)
    paths = {}
    for stage in STAGES:
        path = run_dir / SCRIPT_DIR / f"{stage}.sbatch"
        path.write_text(render_script(stage, run_dir, launcher(stage, resources, container), resources))
        path.chmod(0o755)
        paths[stage] = path
    return paths


def shell_commands(run_dir: Path, steps: list[Step]) -> str:
    """The sbatch calls as a shell snippet a user can run by hand (``--dry-run`` prints it)."""
    names = {step.stage: f"${step.stage}" for step in steps}
    lines = [f"cd {shlex.quote(str(run_dir))}"]
    for step in steps:  # the arguments hold no user text (validated values, relative script paths): no quoting
        lines.append(f"{step.stage}=$(sbatch --parsable {' '.join(step.arguments(names))})")
    return "\n".join(lines) + "\n"


def submit_steps(run_dir: Path, steps: list[Step]) -> Submission:
    """Submit the chain from the run directory; on a refusal, cancel what this call already submitted."""
    job_ids: dict[str, str] = {}
    try:
        for step in steps:
            job_ids[step.stage] = client.sbatch(step.arguments(job_ids), cwd=run_dir)
    except client.SlurmError:
        client.scancel(job_ids.values())
        raise
    array = next((step for step in steps if step.tasks), Step("track"))
    submission = Submission(jobs=job_ids, tasks=list(array.tasks), throttle=array.throttle)
    record_submission(run_dir, submission)
    return submission


@dataclass(frozen=True)
class Prepared:
    """A run ready to submit: its scripts on disk and the sbatch chain for what is left to do."""

    run_dir: Path
    steps: list[Step]

    def scripts(self) -> dict[str, Path]:
        return {step.stage: self.run_dir / SCRIPT_DIR / f"{step.stage}.sbatch" for step in self.steps}


def prepare_new(run: Run, resources: Resources, container: Path | None) -> Prepared:
    """Write the scripts of a planned run; the chain is train → every task → stitch."""
    run_dir = run.directory.resolve()
    if load_submissions(run_dir):
        raise UsageError(f"{run_dir} was submitted before: see `udmt slurm status`; resubmit with `udmt slurm submit --resume`")
    write_scripts(run_dir, resources.validate(), container)
    tasks = [task["index"] for task in run.tasks]
    return Prepared(run_dir, plan_steps(train=True, tasks=tasks, throttle=resources.throttle))


def prepare_resume(run_dir: Path, throttle: int | None) -> Prepared:
    """The chain for what is unfinished, using the scripts already in ``RUN/slurm/``.

    Refused while jobs of the run are still queued: resubmitting them would run tasks twice.
    """
    status = run_status(run_dir)
    if status.queue_error:
        raise client.SlurmError(status.queue_error)
    if status.active_jobs:
        jobs = " ".join(status.active_jobs)
        raise UsageError(f"{run_dir}: jobs {jobs} are still queued or running: wait for them or scancel them, then resume")
    if not (run_dir / SCRIPT_DIR / "track.sbatch").exists():
        raise UsageError(f"{run_dir / SCRIPT_DIR}: no job scripts: submit the run with `udmt slurm submit VIDEO -o RUN` first")
    previous = [s.throttle for s in load_submissions(run_dir) if s.throttle]
    steps = plan_steps(
        train=status.stages["train"].state != "done",
        tasks=status.unfinished(),
        throttle=throttle or (previous[-1] if previous else None),
    )
    if steps == [Step("stitch")] and status.stages["stitch"].state == "done":
        return Prepared(run_dir, [])
    return Prepared(run_dir, steps)
