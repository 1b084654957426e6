"""sbatch job scripts for the three stages of a run: train → chunk array → stitch.

The scripts are meant to be read and edited by people, so they are plain bash with ``#SBATCH`` lines and
comments. Two rules keep them safe with any path: no user path ever appears in an ``#SBATCH`` line (sbatch's
own parser has no escaping; logs are relative to the run directory, which is where the jobs are submitted
from), and every path in the body is quoted with :func:`shlex.quote`. Array ranges and dependencies are not in
the scripts but on the ``sbatch`` command line, because they change with every (re)submission.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from udmt.errors import EXIT_REQUEUE, UsageError

STAGES = ("train", "track", "stitch")
SCRIPT_DIR = "slurm"  # inside the run directory
LOG_DIR = "logs"  # inside the run directory, relative: jobs run with the run directory as working directory

_COMMENTS = {
    "train": "Train the feature net of every video in the run that has no model yet (idempotent).",
    "track": "Track one chunk per array task; a finished chunk is skipped, so requeued tasks resume.",
    "stitch": "Link the chunks' identities and write the final store(s) (CPU only, idempotent).",
}
_FORMATS = {  # option: (accepted pattern, example for the error message)
    "partition": (r"[A-Za-z0-9_.,-]+", "gpu"),
    "gpus": (r"([A-Za-z0-9_.-]+:)?[0-9]+", "1 or a100:1"),
    "mem": (r"[0-9]+[KMGT]?", "16G"),
    "time": (r"[0-9]+(-[0-9]+)?(:[0-9]+){0,2}", "02:00:00 or 1-00:00:00"),
}


@dataclass(frozen=True)
class Resources:
    """What each job asks SLURM for; ``None`` leaves the cluster's default."""

    partition: str | None = None
    gpus: str | None = None  # "1" or "a100:1"; train and track only, stitch never holds a GPU
    cpus: int = 1
    mem: str | None = None
    time: str | None = None
    throttle: int | None = None  # most array tasks running at once
    signal_seconds: int = 300  # USR1 this long before the time limit: checkpoint and requeue

    def validate(self) -> Resources:
        """Reject values that sbatch would misread (they go into ``#SBATCH`` lines verbatim)."""
        for name, (pattern, example) in _FORMATS.items():
            value = getattr(self, name)
            if value is not None and not re.fullmatch(pattern, value):
                raise UsageError(f"--{name} {value!r} is not a valid SLURM value (expected e.g. {example})")
        for name in ("cpus", "throttle", "signal_seconds"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        return self


def sbatch_options(stage: str, resources: Resources) -> list[str]:
    """The sbatch options of one stage, as ``--name=value`` words (used in ``#SBATCH`` lines)."""
    array = stage == "track"
    options = [
        f"--job-name=udmt-{stage}",
        f"--output={LOG_DIR}/%x_%A_%a.out" if array else f"--output={LOG_DIR}/%x_%j.out",
        f"--cpus-per-task={resources.cpus}",
    ]
    options += [f"--{name}={getattr(resources, name)}" for name in ("partition", "mem", "time") if getattr(resources, name)]
    if resources.gpus and stage != "stitch":
        options.append(f"--gres=gpu:{resources.gpus}")
    options += ["--requeue", f"--signal=B:USR1@{resources.signal_seconds}"]
    return options


def array_spec(indices: Iterable[int], throttle: int | None) -> str:
    """``0-9,12,15-16%4``: consecutive indices collapsed into ranges, then the throttle."""
    ordered = sorted(set(indices))
    if not ordered:
        raise ValueError("an array needs at least one index")
    ranges: list[str] = []
    start = prev = ordered[0]
    for index in [*ordered[1:], None]:
        if index is not None and index == prev + 1:
            prev = index
            continue
        ranges.append(str(start) if start == prev else f"{start}-{prev}")
        if index is not None:
            start = prev = index
    return ",".join(ranges) + (f"%{throttle}" if throttle else "")


def launcher(stage: str, resources: Resources, container: Path | None) -> list[str]:
    """The command a job runs udmt with: this installation's ``udmt``, or ``apptainer run [--nv] IMAGE``.

    ``UDMT_APPTAINER`` replaces the word ``apptainer``: shell words, e.g. ``sudo apptainer`` or a test runner.
    """
    if container is not None:
        engine = shlex.split(os.environ.get("UDMT_APPTAINER", "apptainer"))
        gpu = ["--nv"] if resources.gpus and stage != "stitch" else []
        return [*engine, "run", *gpu, str(container.resolve())]
    beside_python = Path(sys.executable).with_name("udmt")  # the same installation as the submitting udmt
    found = str(beside_python) if beside_python.exists() else shutil.which("udmt")
    if found is None:
        raise UsageError("cannot find the udmt command for the jobs: put it on PATH or use --container udmt.sif")
    return [found]


def _udmt_arguments(stage: str) -> str:
    if stage == "track":
        return 'run-task "$run" --task "$SLURM_ARRAY_TASK_ID"'
    return f'{stage} "$run"'


def render_script(stage: str, run_dir: Path, launcher: Sequence[str], resources: Resources) -> str:
    """One stage's job script. ``launcher`` is the command that runs udmt (a path, or apptainer + image)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    header = "\n".join(f"#SBATCH {option}" for option in sbatch_options(stage, resources))
    return f"""#!/bin/bash
{header}
#
# udmt: {_COMMENTS[stage]}
# Written by `udmt slurm submit`; edit freely. Submit from the run directory (logs are relative to it);
# `udmt slurm submit --dry-run` prints the sbatch commands that chain the stages.
set -euo pipefail

run={shlex.quote(str(run_dir))}
udmt=({shlex.join(launcher)})

# Size every thread pool from the CPUs SLURM gave this job.
threads="${{SLURM_CPUS_PER_TASK:-1}}"
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" NUMBA_NUM_THREADS="$threads"

# udmt runs in the background so that this shell can pass SLURM's signals on: USR1 (the warning before the
# time limit, from --signal) and TERM make udmt save finished work and exit {EXIT_REQUEUE}.
pid=
received=
forward() {{ received=$1; [ -z "$pid" ] || kill -s "$1" "$pid" 2>/dev/null || true; }}
trap 'forward USR1' USR1
trap 'forward TERM' TERM
"${{udmt[@]}}" {_udmt_arguments(stage)} &
pid=$!
code=0
wait "$pid" || code=$?
while kill -0 "$pid" 2>/dev/null; do  # a trapped signal ends `wait` early: wait for udmt itself
    code=0
    wait "$pid" || code=$?
done

# Checkpointed before the time limit: back into the queue (same job id; finished work is skipped).
if [ "$code" -eq {EXIT_REQUEUE} ] && [ "$received" = USR1 ]; then
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$code"
"""


def templates() -> dict[str, str]:
    """The hand-editable scripts shipped in the repository's ``slurm/`` folder (a placeholder run, one GPU).

    Regenerate after changing :func:`render_script`:
    ``python -c "from udmt.slurm.scripts import write_templates; write_templates('slurm')"``.
    """
    example = Resources(gpus="1", cpus=4, mem="16G", time="04:00:00")
    return {f"{stage}.sbatch": render_script(stage, Path("/path/to/run"), ["udmt"], example) for stage in STAGES}


def write_templates(directory: str | Path) -> None:
    for name, text in templates().items():
        (Path(directory) / name).write_text(text)
