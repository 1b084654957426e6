"""Interruptions lose nothing: SIGKILL at any point + re-run gives the uninterrupted store bit for bit; SIGTERM
exits 75 (requeue) with a resumable state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from udmt.errors import EXIT_OK, EXIT_REQUEUE
from udmt.store import read_tracks

UDMT = [sys.executable, "-c", "from udmt.cli import main; main()"]
# Step-bounded training (not time-bounded) so that every run trains the same model.
CONFIG = "[udmt]\ntrain_steps = 15\nidentity_steps = 30\ntrain_seconds = 600.0\nchunk_frames = 128\noverlap_frames = 32\n"
ONE_CHUNK = "[udmt]\ntrain_steps = 15\nidentity_steps = 30\ntrain_seconds = 600.0\n"


def _track_args(video: Path, out: Path, config: Path) -> list[str]:
    return [*UDMT, "track", str(video), "-n", "5", "-o", str(out), "--config", str(config), "--workers", "1", "-q"]


@pytest.fixture(scope="module")
def setup(synth_video_factory, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    scene = synth_video_factory("mice", n_frames=300, size=320)
    base = tmp_path_factory.mktemp("resume")
    config = base / "params.toml"
    config.write_text(CONFIG)
    reference = base / "reference.zarr"
    subprocess.run(_track_args(scene / "video.mp4", reference, config), check=True)
    return scene / "video.mp4", config, read_tracks(reference).position


def _wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("kill_point", ["training", "first-chunk", "random"])
def test_sigkill_then_rerun_gives_the_uninterrupted_store(setup, kill_point: str, tmp_path: Path) -> None:
    video, config, expected = setup
    out = tmp_path / "run.zarr"
    run_dir = out.with_suffix(".udmt-run")
    proc = subprocess.Popen(_track_args(video, out, config), start_new_session=True)
    if kill_point == "training":
        assert _wait_for(lambda: (run_dir / "manifest.json").exists(), 60)
    elif kill_point == "first-chunk":
        assert _wait_for(lambda: any((run_dir / "chunks").glob("*/*.npz")), 600)  # a bound on training, not a target
    else:
        time.sleep(np.random.default_rng(7).uniform(2.0, 10.0))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = subprocess.run(_track_args(video, out, config))
    assert rerun.returncode == EXIT_OK
    np.testing.assert_array_equal(read_tracks(out).position, expected)


@pytest.mark.slow
def test_sigterm_exits_75_and_the_task_resumes(setup, tmp_path: Path) -> None:
    video, _, _ = setup
    config = tmp_path / "one-chunk.toml"
    config.write_text(ONE_CHUNK)
    out = tmp_path / "run.zarr"
    run_dir = out.with_suffix(".udmt-run")
    subprocess.run([*UDMT, "plan", str(video), "-n", "5", "-o", str(out), "--config", str(config)], check=True)
    subprocess.run([*UDMT, "train", str(run_dir), "-q"], check=True)
    proc = subprocess.Popen([*UDMT, "run-task", str(run_dir), "--task", "0", "-q"])
    report = run_dir / "tasks" / "0.json"
    assert _wait_for(report.exists, 60)  # the task is tracking (its signal handler is installed)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == EXIT_REQUEUE
    assert json.loads(report.read_text())["status"] == "interrupted"
    assert not any((run_dir / "chunks").glob("*/*.npz"))
    assert subprocess.run([*UDMT, "run-task", str(run_dir), "--task", "0", "-q"]).returncode == EXIT_OK
    assert json.loads(report.read_text())["status"] == "done"
    assert subprocess.run([*UDMT, "stitch", str(run_dir), "-q"]).returncode == EXIT_OK
    assert np.isfinite(read_tracks(out).position).all()
