"""Where a SLURM run stands: finished work from the run directory, the rest from squeue.

The run directory is the truth for what is done (a chunk appears by an atomic rename); squeue only says what
is still queued or running, and why a job that left the queue without a result ended (while slurmctld
still remembers it). Anything unfinished and no longer queued is failed and can be resubmitted.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from udmt.pipeline import Run, open_run
from udmt.slurm import client
from udmt.slurm.client import JobKey, JobState
from udmt.slurm.scripts import LOG_DIR, array_spec
from udmt.slurm.jobs import Submission, load_submissions

RUNNING = frozenset({"RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING"})


@dataclass(frozen=True)
class WorkState:
    """A stage or an array task: ``state`` is done, running, queued, failed, not submitted or unknown."""

    state: str
    detail: str = ""


@dataclass
class RunStatus:
    run_dir: Path
    stages: dict[str, WorkState]  # "train" and "stitch"
    tasks: dict[int, WorkState]  # array index → progress
    active_jobs: list[str]  # job ids of this run still in the queue
    queue_error: str | None = None  # squeue could not be asked (not on a login node, slurmctld down)

    def unfinished(self) -> list[int]:
        return [index for index, task in self.tasks.items() if task.state != "done"]

    def count(self, state: str) -> int:
        return sum(task.state == state for task in self.tasks.values())


def _classify(job: JobKey | None, states: dict[JobKey, JobState] | None, log: str) -> WorkState:
    """Classify unfinished work from its latest job (``None``: never submitted; no ``states``: queue unknown)."""
    if job is None:
        return WorkState("not submitted")
    if states is None:
        return WorkState("unknown", "the queue could not be checked")
    state = states.get(job)
    if state is None:
        return WorkState("failed", f"ended without a result; see {log}")
    if state.state in RUNNING:
        return WorkState("running")
    if state.active:
        return WorkState("queued", state.reason if state.reason != "None" else "")
    return WorkState("failed", f"{state.state} ({state.reason}); see {log}")


def _latest(submissions: list[Submission], stage: str, index: int | None = None) -> JobKey | None:
    for submission in reversed(submissions):
        if stage in submission.jobs and (index is None or index in submission.tasks):
            return submission.jobs[stage], index
    return None


def _trained(run: Run) -> bool:
    return all(run.model_path(video["key"]).exists() for video in run.videos)


def _stitched(run: Run) -> bool:
    return all(Path(video["store"]).exists() for video in run.videos)  # a store appears complete, by rename


def run_status(run_dir: Path) -> RunStatus:
    """Read the run directory and ask squeue about every job this run submitted."""
    run = open_run(run_dir)
    submissions = load_submissions(run_dir)
    queue_error = None
    states: dict[JobKey, JobState] | None
    try:
        states = client.job_states(job_id for s in submissions for job_id in s.jobs.values())
    except client.SlurmError as err:
        states, queue_error = None, str(err)
    done = WorkState("done")

    def stage_classify(stage: str, finished: bool) -> WorkState:
        job = _latest(submissions, stage)
        return done if finished else _classify(job, states, f"{LOG_DIR}/udmt-{stage}_{job[0] if job else '?'}.out")

    tasks = {}
    for task in run.tasks:
        index = task["index"]
        job = _latest(submissions, "track", index)
        log = f"{LOG_DIR}/udmt-track_{job[0] if job else '?'}_{index}.out"
        finished = run.task_done(task)
        tasks[index] = done if finished else _classify(job, states, log)
    return RunStatus(
        run_dir=run_dir,
        stages={"train": stage_classify("train", _trained(run)), "stitch": stage_classify("stitch", _stitched(run))},
        tasks=tasks,
        active_jobs=sorted(
            job_id if index is None else f"{job_id}_{index}" for (job_id, index), s in (states or {}).items() if s.active
        ),
        queue_error=queue_error,
    )


def _line(name: str, progress: WorkState) -> str:
    return f"  {name}: {progress.state}" + (f": {progress.detail}" if progress.detail else "")


def describe(status: RunStatus) -> str:
    """A few lines for people: counts, what failed and why, and the command that resubmits it."""
    total = len(status.tasks)
    counts = ", ".join(f"{status.count(state)} {state}" for state in ("running", "queued", "failed", "not submitted"))
    lines = [
        f"{status.run_dir}: {status.count('done')} of {total} chunk tasks done, {counts}",
        _line("train", status.stages["train"]),
    ]
    for state in ("running", "queued"):
        indices = [i for i, task in status.tasks.items() if task.state == state]
        if indices:
            lines.append(f"  tasks {state}: {array_spec(indices, None)}")
    lines += [_line(f"task {i}", task) for i, task in status.tasks.items() if task.state == "failed"]
    lines.append(_line("stitch", status.stages["stitch"]))
    if status.queue_error:
        lines.append(f"queue not checked: {status.queue_error}")
    elif status.active_jobs:
        lines.append(f"{len(status.active_jobs)} job(s) still queued or running: {' '.join(status.active_jobs)}")
    elif status.unfinished() or status.stages["stitch"].state != "done":
        lines.append(f"resubmit what is missing: udmt slurm submit --resume {shlex.quote(str(status.run_dir))}")
    return "\n".join(lines)
