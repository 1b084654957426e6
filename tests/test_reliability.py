"""Bad inputs and reused outputs explain themselves: one line, the documented exit code, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from udmt.cli.app import run_app
from udmt.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE


@pytest.fixture(scope="module")
def video(synth_video_factory) -> Path:
    return synth_video_factory("mice", n_frames=40, size=320) / "video.mp4"


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("udmt: error:") and len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_zero_animals_is_a_usage_error(video: Path, tmp_path: Path, capsys) -> None:
    assert run_app(["plan", str(video), "-n", "0", "-o", str(tmp_path / "run")]) == EXIT_USAGE
    assert "at least 1" in _one_line_error(capsys)


def test_corrupt_checkpoint_is_named_and_exits_3(video: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert run_app(["plan", str(video), "-n", "5", "-o", str(run)]) == EXIT_OK
    (run / "models").mkdir(exist_ok=True)
    (run / "models" / "v000.pt").write_bytes(b"not a checkpoint")
    capsys.readouterr()
    assert run_app(["run-task", str(run), "--task", "0", "-q"]) == EXIT_BAD_INPUT
    assert "v000.pt" in _one_line_error(capsys)
    assert not list((run / "chunks").glob("*/*.npz"))


def test_a_run_directory_is_not_reused_for_other_parameters(video: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert run_app(["plan", str(video), "-n", "5", "-o", str(run)]) == EXIT_OK
    capsys.readouterr()
    assert run_app(["plan", str(video), "-n", "5", "-o", str(run), "--seed", "3"]) == EXIT_USAGE
    assert "different run" in _one_line_error(capsys)


def test_not_a_video_and_missing_config(tmp_path: Path, video: Path, capsys) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n")
    assert run_app(["track", str(fake), "-n", "2", "-o", str(tmp_path / "o.zarr")]) == EXIT_BAD_INPUT
    assert "notes.mp4" in _one_line_error(capsys)
    assert not (tmp_path / "o.zarr").exists()
    assert run_app(["track", str(video), "-n", "2", "-o", str(tmp_path / "o.zarr"), "--config", "nope.toml"]) == EXIT_USAGE
    assert "nope.toml" in _one_line_error(capsys)


def test_unknown_parameter_in_config(tmp_path: Path, video: Path, capsys) -> None:
    config = tmp_path / "p.toml"
    config.write_text("[udmt]\nsearch_scal = 2.0\n")
    assert run_app(["plan", str(video), "-n", "2", "-o", str(tmp_path / "r"), "--config", str(config)]) == EXIT_USAGE
    assert "search_scal" in _one_line_error(capsys)


def test_a_second_process_on_the_same_output_is_refused(video: Path, tmp_path: Path) -> None:
    """While one `udmt track` holds a run, another pointed at it exits 2 at once and changes nothing."""
    import subprocess
    import sys
    import time

    udmt = [sys.executable, "-c", "from udmt.cli import main; main()"]
    out = tmp_path / "shared.zarr"
    args = [*udmt, "track", str(video), "-n", "5", "-o", str(out), "--train-seconds", "30", "-q"]
    first = subprocess.Popen(args)
    lock = out.with_suffix(".udmt-run") / "run.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run(args, capture_output=True, text=True)
    assert first.wait(timeout=300) == EXIT_OK
    assert second.returncode == EXIT_USAGE, second.stderr
    assert "another udmt process" in second.stderr
