"""``RUN/slurm/jobs.json``: the job ids of every submission of a run, for status and resubmission."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from udmt.slurm.scripts import SCRIPT_DIR

JOBS_FILE = "jobs.json"


@dataclass
class Submission:
    """What one ``udmt slurm submit`` sent: job id per stage, the array indices and the throttle."""

    jobs: dict[str, str]
    tasks: list[int]
    throttle: int | None
    submitted: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))


def load_submissions(run_dir: Path) -> list[Submission]:
    path = run_dir / SCRIPT_DIR / JOBS_FILE
    if not path.exists():
        return []
    return [Submission(**entry) for entry in json.loads(path.read_text())["submissions"]]


def record_submission(run_dir: Path, submission: Submission) -> None:
    """Append to ``RUN/slurm/jobs.json`` (written whole and renamed, so a reader never sees half a file)."""
    path = run_dir / SCRIPT_DIR / JOBS_FILE
    entries = [asdict(s) for s in [*load_submissions(run_dir), submission]]
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps({"submissions": entries}, indent=2) + "\n")
    partial.replace(path)
