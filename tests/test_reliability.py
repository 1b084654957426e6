"""Bad inputs and reused outputs explain themselves: one line, the documented exit code, nothing half-written."""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udmt import store
from udmt.cli.app import run_app
from udmt.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, InputWarning
from udmt.store import read_tracks
from udmt.video import VideoReader

from real_data import THREE_FLIES, needs_real

UDMT = [sys.executable, "-c", "from udmt.cli import main; main()"]
FAST = "[udmt]\ntrain_steps = 0\n"  # no training: these tests are about files, not about tracking quality


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


def _trained_run(video: Path, tmp_path: Path) -> Path:
    """A run directory holding finished work (a trained model), which a new plan must never overwrite."""
    run, config = tmp_path / "run", tmp_path / "fast.toml"
    config.write_text(FAST + "identity_steps = 0\n")
    assert run_app(["plan", str(video), "-n", "5", "-o", str(run), "--config", str(config)]) == EXIT_OK
    assert run_app(["train", str(run), "-q"]) == EXIT_OK
    return run


def test_a_run_directory_is_not_reused_for_other_parameters(video: Path, tmp_path: Path, capsys) -> None:
    """A plan under which nothing was done yet (a typo in -n) may be replaced; one with finished work may not."""
    assert run_app(["plan", str(video), "-n", "4", "-o", str(tmp_path / "run")]) == EXIT_OK
    run = _trained_run(video, tmp_path)  # plans again with -n 5 and other parameters, then trains
    assert json.loads((run / "manifest.json").read_text())["videos"][0]["n_animals"] == 5
    capsys.readouterr()
    assert run_app(["plan", str(video), "-n", "5", "-o", str(run), "--seed", "3"]) == EXIT_USAGE
    assert "different run" in _one_line_error(capsys)


@needs_real
def test_more_animals_than_the_video_shows(tmp_path: Path, capsys) -> None:
    """A likely wrong -n is named in one warning line before the long work; the store records what was seen.

    A warning, not an error: animals that stay still all video long blend into the background estimate and would
    make a correct -n look too large."""
    config, out = tmp_path / "fast.toml", tmp_path / "o.zarr"
    config.write_text(FAST + "identity_steps = 0\n")
    assert run_app(["track", str(THREE_FLIES), "-n", "5", "-o", str(out), "--config", str(config), "-q"]) == EXIT_OK
    warned = capsys.readouterr().err.strip().splitlines()
    assert len(warned) == 1  # the count errs high (a fly with spread wings may count as two): 3 or 4
    assert re.fullmatch(r"udmt: warning: \S*three_flies.mp4: 5 animals asked for, but none of the 50 frames sampled "
                        r"across the video shows more than [34]; if -n is wrong, track again with the number of animals "
                        r"in the arena", warned[0])
    assert read_tracks(out).attrs["scene"]["animals_seen"] in (3, 4)


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
    """While one `udmt track` holds a run, another pointed at it exits 2 at once."""
    import time

    out = tmp_path / "shared.zarr"
    args = [*UDMT, "track", str(video), "-n", "5", "-o", str(out), "--train-seconds", "30", "-q"]
    first = subprocess.Popen(args)
    lock = out.with_suffix(".udmt-run") / "run.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run(args, capture_output=True, text=True)
    assert first.poll() is None  # the first still held the run while the second was refused
    first.kill()  # what a kill leaves behind is test_resume's subject
    first.wait()
    assert second.returncode == EXIT_USAGE, second.stderr
    assert "another udmt process" in second.stderr


# ---------------------------------------------------------------------------------------------------------
# The table of bad inputs (issue #10): one line naming the file, the documented exit code, nothing written.


@pytest.mark.parametrize(
    ("make", "exit_code", "message"),
    [
        (lambda d: d / "missing.mp4", EXIT_BAD_INPUT, "no such video file"),
        (lambda d: d, EXIT_BAD_INPUT, "is a directory"),
        (lambda d: _write(d / "zero.mp4", b""), EXIT_BAD_INPUT, "empty file (0 bytes)"),
        (lambda d: _write(d / "text.mp4", b"not a video\n" * 40), EXIT_BAD_INPUT, "not a readable video"),
    ],
    ids=["missing", "directory", "zero-byte", "not-a-video"],
)
def test_unusable_video_files(tmp_path: Path, capsys, make, exit_code: int, message: str) -> None:
    source = tmp_path / "in"
    source.mkdir()
    video = make(source)
    out = tmp_path / "out.zarr"
    assert run_app(["track", str(video), "-n", "2", "-o", str(out), "-q"]) == exit_code
    err = _one_line_error(capsys)
    assert message in err and str(video) in err
    assert not out.exists() and not out.with_suffix(".udmt-run").exists()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_video_shorter_than_one_training_cycle(synth_video_factory, tmp_path: Path, capsys) -> None:
    short = synth_video_factory("mice", n_frames=5, size=160) / "video.mp4"
    assert run_app(["plan", str(short), "-n", "2", "-o", str(tmp_path / "run")]) == EXIT_BAD_INPUT
    assert "only 5 readable frame(s); udmt needs at least 7" in _one_line_error(capsys)
    assert not (tmp_path / "run").exists()


def test_points_outside_the_frame(video: Path, tmp_path: Path, capsys) -> None:
    points = tmp_path / "points.csv"
    points.write_text("x,y\n10,10\n320.4,20\n")  # the 320 px wide frame ends at x = 319.5
    assert run_app(["plan", str(video), "--init", str(points), "-o", str(tmp_path / "run")]) == EXIT_BAD_INPUT
    assert "point 1 (320.4, 20) lies outside the 320×320 frame" in _one_line_error(capsys)


def test_a_store_of_another_video_is_never_replaced(video: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.zarr"
    store.create_store(out, n_frames=10, individuals=["a"], fps=25.0, time_chunk=8,
                       attrs={"video_hash": "0" * 64, "video_path": "/data/other.mp4"})  # fmt: skip
    before = read_tracks(out).attrs
    assert run_app(["track", str(video), "-n", "5", "-o", str(out), "-q"]) == EXIT_USAGE
    assert "holds the result for another video (/data/other.mp4)" in _one_line_error(capsys)
    assert read_tracks(out).attrs == before and not out.with_suffix(".udmt-run").exists()
    foreign = tmp_path / "mine.zarr"
    foreign.mkdir()
    (foreign / "data.txt").write_text("someone's data")
    assert run_app(["plan", str(video), "-n", "5", "-o", str(foreign)]) == EXIT_USAGE
    assert "exists and is not a udmt store" in _one_line_error(capsys)
    assert (foreign / "data.txt").read_text() == "someone's data"


def test_a_store_is_not_drawn_over_another_video(video: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "other.zarr"
    store.create_store(out, n_frames=40, individuals=["a"], fps=25.0, time_chunk=8,
                       attrs={"video_hash": "0" * 64, "video_path": "/data/other.mp4"})  # fmt: skip
    assert run_app(["render", str(out), str(video), "-o", str(tmp_path / "overlay.mp4"), "-q"]) == EXIT_BAD_INPUT
    assert "was tracked from /data/other.mp4, not from" in _one_line_error(capsys)
    assert not (tmp_path / "overlay.mp4").exists()


def test_a_run_of_another_udmt_version_is_not_resumed(video: Path, tmp_path: Path, capsys) -> None:
    run = _trained_run(video, tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["udmt_version"] = "0.0.1"
    (run / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    for argv in (["plan", str(video), "-n", "5", "-o", str(run)], ["run-task", str(run), "--task", "0", "-q"]):
        assert run_app(argv) == EXIT_USAGE
        assert "planned by udmt 0.0.1" in _one_line_error(capsys)


def test_a_store_in_a_newer_format_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "new.zarr"
    store.create_store(path, n_frames=4, individuals=["a"], fps=25.0, time_chunk=4, attrs={})
    store.update_attrs(path, store_format=store.STORE_FORMAT + 1)
    assert run_app(["info", str(path)]) == EXIT_BAD_INPUT
    assert f"store format {store.STORE_FORMAT + 1}" in _one_line_error(capsys)


# ---------------------------------------------------------------------------------------------------------
# The machine says no: a read-only output folder, a full disk.


def _mount_tmpfs(where: Path, options: str) -> bool:
    """Mount a tmpfs at ``where`` (root only); False where this machine does not allow it."""
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True).returncode == 0


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "read-only"
    folder.mkdir()
    if _mount_tmpfs(folder, "ro,size=64k"):
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
    elif os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    else:
        pytest.skip("root without permission to mount: no way to make a folder read-only here")


def test_read_only_output_folder(video: Path, read_only_dir: Path, tmp_path: Path, capsys) -> None:
    assert run_app(["track", str(video), "-n", "5", "-o", str(read_only_dir / "out.zarr"), "-q"]) == EXIT_USAGE
    assert "choose an output folder you can write to" in _one_line_error(capsys)
    out = tmp_path / "ok.zarr"
    store.create_store(out, n_frames=4, individuals=["a"], fps=25.0, time_chunk=4, attrs={})
    assert run_app(["export", str(out), "-f", "csv", "-o", str(read_only_dir / "t.csv")]) == EXIT_USAGE
    assert "t.csv" in _one_line_error(capsys)


class FullDisk:
    """A full disk under ``folder``: a filled tmpfs where mounting is allowed (a real ENOSPC), else a zero file
    size limit on this process (RLIMIT_FSIZE: every write that grows a file fails with EFBIG, as on a quota)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tmpfs = _mount_tmpfs(folder, "size=4m")

    @contextlib.contextmanager
    def full(self) -> Iterator[None]:
        if not self.tmpfs:
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))  # Python ignores SIGXFSZ: writes get EFBIG
            try:
                yield
            finally:
                resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            return
        filler = self.folder / "filler"
        with open(filler, "wb") as handle, contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        try:
            yield
        finally:
            filler.unlink()

    def close(self) -> None:
        if self.tmpfs:
            subprocess.run(["umount", str(self.folder)], check=True)


def test_disk_full_at_every_stage_loses_nothing(video: Path, tmp_path: Path, capsys) -> None:
    """Training, a chunk and the stitch each fail on a full disk with one line (exit 1) and leave no output that
    looks finished; after space is freed the same commands finish the run."""
    folder = tmp_path / "disk"
    folder.mkdir()
    disk = FullDisk(folder)
    try:
        config = tmp_path / "fast.toml"
        config.write_text(FAST)
        out = folder / "out.zarr"
        run = out.with_suffix(".udmt-run")
        assert run_app(["plan", str(video), "-n", "5", "-o", str(out), "--config", str(config)]) == EXIT_OK
        for stage, done in ((["train", str(run), "-q"], lambda: (run / "models" / "v000.pt").exists()),
                            (["run-task", str(run), "--task", "0", "-q"], lambda: any(run.glob("chunks/*/*.npz"))),
                            (["stitch", str(run), "-q"], out.exists)):  # fmt: skip
            capsys.readouterr()
            with disk.full():
                code = run_app(stage)
            assert code == EXIT_FAILURE
            line = _one_line_error(capsys)
            assert line.startswith(f"udmt: error: {run}: ") and "finished work is kept" in line
            assert ("No space left on device" if disk.tmpfs else "File too large") in line
            assert not done() and not list(run.glob("chunks/*/.*.tmp.npz"))
            assert run_app(stage) == EXIT_OK and done()
        assert read_tracks(out).position.shape == (40, 5, 2)
    finally:
        disk.close()


# ---------------------------------------------------------------------------------------------------------
# Damaged and unusual videos are tracked end to end.


def test_truncated_mp4_is_tracked_to_its_last_frame(video: Path, tmp_path: Path, capsys) -> None:
    data = video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    with VideoReader(cut) as reader:
        stated = reader.n_frames
        with pytest.warns(InputWarning):
            last = sum(1 for _ in reader.frames())
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    out = tmp_path / "cut.zarr"
    capsys.readouterr()
    assert run_app(["track", str(cut), "-n", "5", "-o", str(out), "--config", str(config), "-q"]) == EXIT_OK
    warned = capsys.readouterr().err.strip().splitlines()  # (28 frames of barely moving mice: a count warning too)
    assert f"udmt: warning: {cut}: truncated or corrupt after frame {last - 1}; frames from {last} on cannot be read" in warned
    tracks = read_tracks(out)
    assert tracks.attrs["video_truncated_at"] == last and tracks.n_frames == stated
    assert np.isfinite(tracks.position[:last]).any(axis=(1, 2)).all()  # tracked up to the damage …
    assert np.isnan(tracks.position[last:]).all()  # … and nothing invented after it


def test_variable_frame_rate_16_bit_gray_video(video: Path, tmp_path: Path) -> None:
    """A 16-bit gray FFV1 mkv with irregular timestamps: tracked, and the store keeps the video's own clock."""
    with VideoReader(video) as reader:
        frames = [frame for _, frame in reader.frames()]
    stamps = np.cumsum([0, *np.random.default_rng(5).integers(20, 50, len(frames) - 1)])  # ms, irregular
    vfr = tmp_path / "vfr16.mkv"
    with av.open(str(vfr), "w") as container:
        stream = container.add_stream("ffv1", rate=30)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "gray16le"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for frame, ms in zip(frames, stamps):
            wide = av.VideoFrame.from_ndarray(frame.astype(np.uint16) * 257, format="gray16le")
            wide.pts, wide.time_base = int(ms), Fraction(1, 1000)
            for packet in stream.encode(wide):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    out = tmp_path / "vfr.zarr"
    assert run_app(["track", str(vfr), "-n", "5", "-o", str(out), "--config", str(config), "-q"]) == EXIT_OK
    dataset = store.open_dataset(out)
    np.testing.assert_allclose(dataset["time"].values, stamps / 1000.0, atol=1e-9)
    assert np.isfinite(dataset["position"].values).mean() > 0.5


# ---------------------------------------------------------------------------------------------------------
# Property-based: the store keeps whatever it is given, bit for bit, in any layout.


@settings(max_examples=15, deadline=None)
@given(
    n_frames=st.integers(1, 40),
    n=st.integers(1, 4),
    chunk=st.integers(1, 16),
    seed=st.integers(0, 2**32 - 1),
    specials=st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 3.4e38, 1e-45]), min_size=1, max_size=6),
)
def test_store_round_trips_any_values_in_any_layout(n_frames: int, n: int, chunk: int, seed: int,
                                                     specials: list[float]) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    position = rng.normal(0, 500, (n_frames, n, 2)).astype(np.float32)
    confidence = rng.random((n_frames, n)).astype(np.float32)
    for value in specials:  # NaN, ±inf, signed zeros and extremes wherever the seed puts them
        position.reshape(-1)[rng.integers(position.size)] = value
        confidence.reshape(-1)[rng.integers(confidence.size)] = value
    flags = rng.integers(0, 256, (n_frames, n), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.zarr"
        names = [f"animal_{i}" for i in range(n)]
        store.create_store(path, n_frames=n_frames, individuals=names, fps=30.0, time_chunk=chunk,
                           attrs={"note": "x", "score": float(specials[0])})  # fmt: skip
        starts = list(range(0, n_frames, chunk))
        for start in rng.permutation(starts):  # blocks of whole chunks, in any order
            stop = min(int(start) + chunk, n_frames)
            store.write_block(path, int(start), position[start:stop], confidence[start:stop], flags[start:stop])
        tracks = store.read_tracks(path)
        assert np.array_equal(tracks.position.view(np.uint32), position.view(np.uint32))
        assert np.array_equal(tracks.confidence.view(np.uint32), confidence.view(np.uint32))
        assert np.array_equal(tracks.flags, flags) and tracks.individuals == names
        assert np.array_equal(tracks.attrs["score"], specials[0], equal_nan=True)


@pytest.mark.parametrize(("given", "expected"), [
    ({}, "10000"),
    ({"GOMP_SPINCOUNT": "300000"}, "300000"),
    ({"OMP_WAIT_POLICY": "PASSIVE"}, None),
])
def test_torchs_threads_spin_briefly_unless_the_user_says_otherwise(given: dict, expected: str | None) -> None:
    """Importing udmt shortens how long OpenMP threads spin before they sleep (a process sharing the cores is
    otherwise slowed several-fold: benchmarks/shared_cores.sh), and leaves a user's own setting alone."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")} | given
    code = "import os, udmt; print(os.environ.get('GOMP_SPINCOUNT'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(expected)
