"""Thin calls to the SLURM client commands (sbatch, squeue, scancel), with timeouts and one-line errors.

A client blocks for ~10 s and retries while slurmctld is unreachable, so every call has a timeout; a missing
command or a refusal becomes a :class:`udmt.errors.UdmtError` that names the command and SLURM's reason.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from udmt.errors import UdmtError

TIMEOUT_S = 60
# squeue states of a job that is still in the queue (not finished in any way).
ACTIVE = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD",
                    "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "STOPPED", "RESV_DEL_HOLD"})
JobKey = tuple[str, int | None]  # (job id, array index); None for a job that is not an array


class SlurmError(UdmtError):
    """A SLURM command failed or is not installed."""


def _call(args: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except FileNotFoundError:
        raise SlurmError(f"{args[0]}: command not found (run this on a SLURM login node)") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{args[0]} did not answer in {TIMEOUT_S} s: is slurmctld reachable (check SLURM_CONF)?") from None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def sbatch(args: Sequence[str], cwd: Path) -> str:
    """Submit with ``sbatch --parsable ARGS`` from ``cwd``; returns the job id."""
    done = _call(["sbatch", "--parsable", *args], cwd=cwd)
    if done.returncode != 0:
        raise SlurmError(f"sbatch {' '.join(args)}: {_last_line(done.stderr)}")
    return done.stdout.strip().split(";")[0]  # "id" or "id;cluster"


def scancel(job_ids: Iterable[str]) -> None:
    """Cancel jobs (best effort: used to undo a half-made submission)."""
    ids = list(job_ids)
    if ids:
        _call(["scancel", *ids])


@dataclass(frozen=True)
class JobState:
    """squeue's view of one job or array task: ``state`` (e.g. RUNNING, FAILED) and ``reason``."""

    state: str
    reason: str

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def job_states(job_ids: Iterable[str]) -> dict[JobKey, JobState]:
    """State per (job id, array index) of the jobs slurmctld still remembers; non-array jobs have index None.

    Jobs purged from slurmctld's memory (``MinJobAge`` after they ended) are absent from the answer.
    """
    ids = ",".join(dict.fromkeys(job_ids))
    if not ids:
        return {}
    done = _call(["squeue", "-h", "-r", "-t", "all", "-j", ids, "-o", "%F %K %T %r"])
    if done.returncode != 0 and "Invalid job id" not in done.stderr:  # all ids purged: nothing to report
        raise SlurmError(f"squeue: {_last_line(done.stderr)}")
    states = {}
    for line in done.stdout.splitlines() if done.returncode == 0 else ():
        job_id, index, state, reason = line.split(maxsplit=3)
        states[(job_id, None if index == "N/A" else int(index))] = JobState(state, reason)
    return states
