"""udmt.slurm: job scripts, their quoting and signal handling, and submission on a real SLURM cluster.

The cluster tests start munged + slurmctld + slurmd on this machine (see ``slurm_cluster.py``). A stand-in
"udmt" (a few lines of Python given as the launcher) records what each job ran so that quoting, array
ranges, dependencies and requeue are checked before the pipeline is involved; the end-to-end tests then run
the real pipeline through ``udmt slurm submit``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import udmt.cli.commands_slurm  # noqa: F401  (registers `udmt slurm`)
from slurm_cluster import SlurmCluster
from udmt.cli.app import run_app
from udmt.errors import EXIT_OK, EXIT_USAGE, UsageError
from udmt.store import read_tracks
from udmt.slurm.scripts import STAGES, Resources, array_spec, launcher, render_script, templates
from udmt.slurm.submit import plan_steps, shell_commands, submit_steps
from udmt.slurm.jobs import load_submissions

ODD = "run dir with spaces, 'quotes', \"double\", $HOME, `tick` and 100%"

# A stand-in for udmt: records its arguments, thread count and restart count in RUN/seen/<command><task>.json.
# Its first argument is a mode: "fail" makes array task 1 exit 3; "checkpoint" makes a task's first run wait
# for USR1 or TERM and exit 75 (what `udmt run-task` does), after writing RUN/waiting with the batch shell's pid.
RECORDER = """
import json, os, signal, sys, time
from pathlib import Path
mode, command, run = sys.argv[1], sys.argv[2], Path(sys.argv[3])
task = os.environ.get("SLURM_ARRAY_TASK_ID", "")
restarts = os.environ.get("SLURM_RESTART_COUNT", "0")
if mode == "fail" and task == "1":
    sys.exit(3)
if mode == "checkpoint" and command == "run-task" and restarts == "0":
    for number in (signal.SIGUSR1, signal.SIGTERM):
        signal.signal(number, lambda *_: sys.exit(75))
    (run / "waiting.partial").write_text(str(os.getppid()))
    (run / "waiting.partial").rename(run / "waiting")
    time.sleep(60)
    sys.exit(1)
(run / "seen").mkdir(exist_ok=True)
seen = sorted(p.name for p in (run / "seen").iterdir())
record = {"argv": sys.argv[2:], "threads": os.environ.get("OMP_NUM_THREADS"), "restarts": restarts, "seen": seen}
(run / "seen" / f"{command}{task}.json").write_text(json.dumps(record))
"""


def recorder_scripts(run_dir: Path, mode: str, resources: Resources = Resources()) -> None:
    """Write the three stage scripts with the stand-in launcher (what write_scripts does with real udmt)."""
    (run_dir / "slurm").mkdir(parents=True)
    (run_dir / "logs").mkdir()
    for stage in STAGES:
        text = render_script(stage, run_dir, [sys.executable, "-c", RECORDER, mode], resources)
        (run_dir / "slurm" / f"{stage}.sbatch").write_text(text)


def seen(run_dir: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (run_dir / "seen").glob("*.json")}


# ---------------------------------------------------------------------------------------------- scripts


def test_array_spec_collapses_ranges_and_adds_the_throttle() -> None:
    assert array_spec(range(10), None) == "0-9"
    assert array_spec([7, 0, 1, 2, 5, 8, 2], 4) == "0-2,5,7-8%4"
    assert array_spec([3], 1) == "3%1"


def test_resources_reject_values_sbatch_would_misread() -> None:
    Resources(partition="gpu", gpus="a100:2", mem="16G", time="1-00:00:00", throttle=2).validate()
    with pytest.raises(UsageError, match="--partition"):
        Resources(partition="gpu\n#SBATCH --account=other").validate()
    with pytest.raises(UsageError, match="--time"):
        Resources(time="two hours").validate()
    with pytest.raises(UsageError, match="--throttle"):
        Resources(throttle=0).validate()


def test_sbatch_lines_hold_no_user_paths_and_stitch_holds_no_gpu(tmp_path: Path) -> None:
    resources = Resources(partition="gpu", gpus="1", cpus=4, mem="8G", time="01:00:00", signal_seconds=120)
    track = render_script("track", tmp_path / ODD, ["udmt"], resources)
    stitch = render_script("stitch", tmp_path / ODD, ["udmt"], resources)
    directives = [line for line in track.splitlines() if line.startswith("#SBATCH")]
    assert directives == [
        "#SBATCH --job-name=udmt-track",
        "#SBATCH --output=logs/%x_%A_%a.out",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --partition=gpu",
        "#SBATCH --mem=8G",
        "#SBATCH --time=01:00:00",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --requeue",
        "#SBATCH --signal=B:USR1@120",
    ]
    assert "--gres" not in stitch and "#SBATCH --output=logs/%x_%j.out" in stitch
    assert "set -euo pipefail" in track


def test_container_jobs_run_udmt_through_apptainer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "my images" / "udmt.sif"
    gpu = Resources(gpus="1")
    assert launcher("track", gpu, image) == ["apptainer", "run", "--nv", str(image)]
    assert launcher("stitch", gpu, image) == ["apptainer", "run", str(image)]  # stitch holds no GPU
    monkeypatch.setenv("UDMT_APPTAINER", "'/opt/my runner/run.sh' --verbose")  # shell words
    assert launcher("train", Resources(), image) == ["/opt/my runner/run.sh", "--verbose", "run", str(image)]
    assert launcher("train", Resources(), None) == [str(Path(sys.executable).with_name("udmt"))]


def test_templates_in_the_repository_match_the_generator() -> None:
    folder = Path(__file__).resolve().parents[1] / "slurm"
    for name, text in templates().items():
        assert (folder / name).read_text() == text, f"slurm/{name} is stale: regenerate it (see udmt.slurm.scripts.templates)"
    for script in [*folder.glob("*.sbatch"), folder / "submit.sh"]:
        assert subprocess.run(["bash", "-n", script]).returncode == 0, script


def run_script(script: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(["bash", "-c", script], cwd=cwd, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)


def test_script_passes_odd_paths_intact_and_sizes_threads(tmp_path: Path) -> None:
    run_dir = tmp_path / ODD
    run_dir.mkdir()
    script = render_script("track", run_dir, [sys.executable, "-c", RECORDER, "plain"], Resources())
    job = run_script(script, {"SLURM_ARRAY_TASK_ID": "3", "SLURM_CPUS_PER_TASK": "2"}, tmp_path)
    assert job.wait(timeout=30) == 0
    record = seen(run_dir)["run-task3"]
    assert record["argv"] == ["run-task", str(run_dir), "--task", "3"]
    assert record["threads"] == "2"


def wait_for_file(path: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def test_script_forwards_term_to_udmt_and_exits_with_its_code(tmp_path: Path) -> None:
    run_dir = tmp_path / ODD
    run_dir.mkdir()
    script = render_script("track", run_dir, [sys.executable, "-c", RECORDER, "checkpoint"], Resources())
    job = run_script(script, {"SLURM_ARRAY_TASK_ID": "0"}, tmp_path)
    wait_for_file(run_dir / "waiting")
    job.send_signal(signal.SIGTERM)
    # 75 comes from the stand-in's handler: the shell survived TERM, passed it on and waited. No requeue
    # (that is for USR1, the time-limit warning), which outside SLURM would fail the script.
    assert job.wait(timeout=30) == 75


def test_plan_steps_chain_what_is_left() -> None:
    full = plan_steps(train=True, tasks=[0, 1, 2, 5], throttle=2)
    assert [(s.stage, s.after) for s in full] == [("train", None), ("track", "train"), ("stitch", "track")]
    assert full[1].arguments({"train": "11"}) == [
        "--dependency=afterok:11", "--kill-on-invalid-dep=yes", "--array=0-2,5%2", "slurm/track.sbatch"
    ]
    assert [(s.stage, s.after) for s in plan_steps(train=False, tasks=[], throttle=None)] == [("stitch", None)]
    commands = shell_commands(Path("/a b/run"), full).splitlines()
    assert commands == [
        "cd '/a b/run'",
        "train=$(sbatch --parsable slurm/train.sbatch)",
        "track=$(sbatch --parsable --dependency=afterok:$train --kill-on-invalid-dep=yes --array=0-2,5%2 slurm/track.sbatch)",
        "stitch=$(sbatch --parsable --dependency=afterok:$track --kill-on-invalid-dep=yes slurm/stitch.sbatch)",
    ]


# ---------------------------------------------------------------------------------------------- cluster


@pytest.fixture
def cluster(slurm_cluster: SlurmCluster, monkeypatch: pytest.MonkeyPatch) -> SlurmCluster:
    """The session's cluster, with SLURM_CONF set for in-process client calls."""
    monkeypatch.setenv("SLURM_CONF", slurm_cluster.env["SLURM_CONF"])
    return slurm_cluster


@pytest.mark.slurm
def test_chain_runs_train_then_throttled_array_then_stitch(cluster: SlurmCluster, tmp_path: Path) -> None:
    run_dir = tmp_path / ODD
    recorder_scripts(run_dir, "plain", Resources(cpus=1))
    submission = submit_steps(run_dir, plan_steps(train=True, tasks=[0, 1, 2, 3], throttle=2))
    assert "ArrayTaskThrottle=2" in cluster.run(["scontrol", "show", "job", submission.jobs["track"]]).stdout
    cluster.wait(list(submission.jobs.values()))

    records = seen(run_dir)
    assert sorted(records) == ["run-task0", "run-task1", "run-task2", "run-task3", "stitch", "train"]
    assert all("train.json" in records[f"run-task{i}"]["seen"] for i in range(4))  # afterok: train came first
    assert {f"run-task{i}.json" for i in range(4)} <= set(records["stitch"]["seen"])  # … and stitch last
    assert records["run-task2"]["argv"] == ["run-task", str(run_dir), "--task", "2"]
    assert records["stitch"]["threads"] == "1"
    logs = sorted(p.name for p in (run_dir / "logs").iterdir())
    track = submission.jobs["track"]
    assert logs == sorted([f"udmt-train_{submission.jobs['train']}.out", f"udmt-stitch_{submission.jobs['stitch']}.out"]
                          + [f"udmt-track_{track}_{i}.out" for i in range(4)])
    assert load_submissions(run_dir) == [submission]


@pytest.mark.slurm
def test_failed_task_fails_the_array_and_cancels_stitch(cluster: SlurmCluster, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    recorder_scripts(run_dir, "fail")
    submission = submit_steps(run_dir, plan_steps(train=False, tasks=[0, 1, 2], throttle=None))
    cluster.wait(list(submission.jobs.values()))
    track, stitch = submission.jobs["track"], submission.jobs["stitch"]
    assert cluster.states(track) == {f"{track}_0": "COMPLETED", f"{track}_1": "FAILED", f"{track}_2": "COMPLETED"}
    assert cluster.states(stitch) == {stitch: "CANCELLED"}
    assert "stitch" not in seen(run_dir)


@pytest.mark.slurm
def test_usr1_before_the_time_limit_checkpoints_and_requeues(cluster: SlurmCluster, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    recorder_scripts(run_dir, "checkpoint")
    submission = submit_steps(run_dir, plan_steps(train=False, tasks=[0], throttle=None))
    batch_shell = int(wait_for_file(run_dir / "waiting"))
    os.kill(batch_shell, signal.SIGUSR1)  # what --signal=B:USR1@S does: the batch shell only
    cluster.wait(list(submission.jobs.values()))
    records = seen(run_dir)
    assert records["run-task0"]["restarts"] == "1"  # requeued under the same job id, ran again, finished
    assert "stitch" in records


# ---------------------------------------------------------------------------------------------- end to end
# The real pipeline under SLURM. Training is bounded by steps, not by the wall clock, so that a training job
# and a local run train the same model and the stores can be compared bit for bit.

PLAN = ["-n", "5", "--chunk-frames", "128", "--overlap", "32"]  # 240 frames: two chunks, two array tasks


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A synthetic 240-frame recording and a parameter file with a step-bounded training."""
    root = tmp_path_factory.mktemp("recording")
    assert run_app(["synth", "mice", "-o", str(root / "synth"), "--frames", "240", "--size", "320", "-q"]) == EXIT_OK
    config = root / "fast.toml"
    config.write_text("[udmt]\ntrain_steps = 20\nidentity_steps = 30\ntrain_seconds = 3600\n")
    return root / "synth" / "video.mp4", config


@pytest.fixture(scope="module")
def local_positions(recording: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """The same recording and parameters tracked by `udmt track --workers 2`, for comparison.

    With one torch thread, as in the jobs (``--cpus 1``): training's float reductions depend on the thread count.
    """
    video, config = recording
    out = tmp_path_factory.mktemp("local") / "run"
    udmt = Path(sys.executable).with_name("udmt")
    command = [udmt, "track", video, "-o", out, *PLAN, "--config", config, "--workers", "2", "-q"]
    subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True)
    return read_tracks(out / "video.zarr").position


def submitted_jobs(run_dir: Path) -> list[str]:
    return [job_id for s in load_submissions(run_dir) for job_id in s.jobs.values()]


def status_text(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert run_app(["slurm", "status", str(run_dir)]) == EXIT_OK
    return capsys.readouterr().out


def test_dry_run_writes_scripts_and_prints_the_chain_without_submitting(
    recording: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video, config = recording
    run_dir = tmp_path / ODD
    code = run_app(["slurm", "submit", str(video), "-o", str(run_dir), *PLAN, "--config", str(config), "--throttle", "1",
                    "--partition", "short", "--time", "00:30:00", "--dry-run"])
    assert code == EXIT_OK
    printed = capsys.readouterr().out
    for stage in STAGES:
        assert (run_dir / "slurm" / f"{stage}.sbatch").read_text() in printed
    assert "#SBATCH --partition=short" in printed and "#SBATCH --time=00:30:00" in printed
    assert "--array=0-1%1 slurm/track.sbatch" in printed
    assert not (run_dir / "slurm" / "jobs.json").exists()
    assert run_app(["slurm", "submit", str(video), "-o", str(run_dir), *PLAN, "--time", "2 hours", "--dry-run"]) == EXIT_USAGE


@pytest.mark.slurm
@pytest.mark.slow
def test_submitted_run_equals_local_track_bit_for_bit(
    cluster: SlurmCluster, recording: tuple[Path, Path], local_positions: np.ndarray, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    video, config = recording
    run_dir = tmp_path / ODD
    assert run_app(["slurm", "submit", str(video), "-o", str(run_dir), *PLAN, "--config", str(config), "--throttle", "2"]) == EXIT_OK
    cluster.wait(submitted_jobs(run_dir), timeout=600)
    np.testing.assert_array_equal(read_tracks(run_dir / "video.zarr").position, local_positions)
    reports = [json.loads((run_dir / "tasks" / f"{i}.json").read_text()) for i in range(2)]
    assert all(r["frames"] > 0 and r["fps"] > 0 and r["peak_rss_mib"] > 0 for r in reports)
    text = status_text(run_dir, capsys)
    assert "2 of 2 chunk tasks done" in text and "stitch: done" in text and "resubmit" not in text


@pytest.mark.slurm
@pytest.mark.slow
def test_cancelled_task_fails_the_run_and_resume_completes_it(
    cluster: SlurmCluster, recording: tuple[Path, Path], local_positions: np.ndarray, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    video, config = recording
    run_dir = tmp_path / "run"
    assert run_app(["slurm", "submit", str(video), "-o", str(run_dir), *PLAN, "--config", str(config), "--throttle", "1"]) == EXIT_OK
    track = load_submissions(run_dir)[0].jobs["track"]
    deadline = time.monotonic() + 300
    while cluster.states(track).get(f"{track}_1") != "RUNNING":  # throttle 1: task 1 starts once task 0 is done
        assert time.monotonic() < deadline, cluster.states(track)
        time.sleep(0.2)
    cluster.run(["scancel", f"{track}_1"])
    cluster.wait(submitted_jobs(run_dir))

    text = status_text(run_dir, capsys)
    assert "1 of 2 chunk tasks done" in text and "task 1: failed: CANCELLED" in text
    assert "stitch: failed: CANCELLED (DependencyNeverSatisfied)" in text
    assert "udmt slurm submit --resume" in text and not (run_dir / "video.zarr").exists()

    assert run_app(["slurm", "submit", "--resume", str(run_dir)]) == EXIT_OK
    again = load_submissions(run_dir)[-1]
    assert again.tasks == [1] and set(again.jobs) == {"track", "stitch"}  # trained already: no new training job
    cluster.wait(submitted_jobs(run_dir), timeout=600)
    np.testing.assert_array_equal(read_tracks(run_dir / "video.zarr").position, local_positions)
    assert run_app(["slurm", "submit", "--resume", str(run_dir)]) == EXIT_OK
    assert "nothing left to do" in capsys.readouterr().out


@pytest.mark.slurm
@pytest.mark.slow
def test_unreadable_video_fails_its_tasks_visibly(
    cluster: SlurmCluster, recording: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Planned and trained, then the video is damaged: every task fails, stitch is cancelled, status says so."""
    video, config = recording
    broken = tmp_path / "broken.mp4"
    shutil.copy(video, broken)
    run_dir = tmp_path / "run"
    assert run_app(["slurm", "submit", str(broken), "-o", str(run_dir), *PLAN, "--config", str(config), "--dry-run"]) == EXIT_OK
    assert run_app(["train", str(run_dir), "-q"]) == EXIT_OK
    broken.write_bytes(b"not a video any more")
    assert run_app(["slurm", "submit", "--resume", str(run_dir)]) == EXIT_OK
    cluster.wait(submitted_jobs(run_dir), timeout=300)

    text = status_text(run_dir, capsys)
    assert "0 of 2 chunk tasks done" in text and "task 0: failed: FAILED (NonZeroExitCode)" in text
    assert "stitch: failed: CANCELLED (DependencyNeverSatisfied)" in text
    track = load_submissions(run_dir)[-1].jobs["track"]
    assert "broken.mp4" in (run_dir / "logs" / f"udmt-track_{track}_0.out").read_text()  # the one-line reason
