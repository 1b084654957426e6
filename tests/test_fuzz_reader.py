"""Fuzz smoke test of udmt.video: malformed containers never crash the interpreter.

Small real files (H.264 mp4 with B-frames, MPEG-4 Part 2 avi, FFV1 mkv) are mutated with a seeded RNG (cuts,
byte flips, deleted spans, overwritten words) and every mutant goes through everything a stage does with a
video. The reader runs in a subprocess so that a crash in FFmpeg (a signal) is seen as a failure, not as the
end of the test session. The only acceptable outcomes per file are "read" and a one-line
:class:`udmt.errors.UdmtError`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from udmt.video import VideoWriter

H, W, N = 48, 64, 24
MUTANTS_PER_SEED_FILE = 80
WORKER = r"""
import sys, warnings
from udmt.errors import UdmtError
from udmt.video import VideoReader
warnings.simplefilter("ignore")
for path in sys.argv[1:]:
    print(path, end=" ", flush=True)
    try:
        with VideoReader(path) as reader:
            n, readable = reader.n_frames, reader.readable_frames
            reader.content_hash(); reader.frame_times()
            decoded = sum(1 for _ in reader.frames())
            for index in (n - 1, n // 2, readable - 1, 0):
                if 0 <= index < n:
                    try:
                        frame = reader.read(index)
                        assert frame.shape == (reader.height, reader.width), frame.shape
                    except UdmtError:
                        pass
        print("read", decoded, flush=True)
    except UdmtError as err:
        assert "\n" not in str(err), repr(err)
        print("refused", flush=True)
"""


def _pattern(t: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    frame = ((xx * 2 + yy + 5 * t) % 200 + 20).astype(np.uint8)
    frame[10:20, (3 * t) % 50 : (3 * t) % 50 + 10] = 250
    return frame


def _encode(path: Path, codec: str, pix_fmt: str) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, pix_fmt
        for t in range(N):
            frame = av.VideoFrame.from_ndarray(_pattern(t), format="gray").reformat(format=pix_fmt)
            frame.pts = t
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _mutate(data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random damage: cut, flipped bytes, a deleted span, or an overwritten 8-byte word."""
    kind = rng.integers(4)
    if kind == 0:
        return data[: rng.integers(1, len(data))]
    mutant = data.copy()
    if kind == 1:
        where = rng.integers(0, len(mutant), rng.integers(1, 20))
        mutant[where] = rng.integers(0, 256, len(where))
        return mutant
    start = int(rng.integers(0, len(mutant) - 8))
    if kind == 2:
        return np.concatenate([mutant[:start], mutant[start + int(rng.integers(1, 200)) :]])
    words = [b"\xff" * 8, b"\x00" * 8, b"\x7f\xff\xff\xff\x00\x00\x00\x01"]
    mutant[start : start + 8] = np.frombuffer(words[rng.integers(len(words))], np.uint8)
    return mutant


@pytest.fixture(scope="module")
def mutants(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("fuzz")
    with VideoWriter(base / "seed.mp4", W, H, 25, preset="medium") as writer:  # B-frames, index at the front
        for t in range(N):
            writer.write(_pattern(t))
    _encode(base / "seed.avi", "mpeg4", "yuv420p")
    _encode(base / "seed.mkv", "ffv1", "gray")
    rng = np.random.default_rng(20260)
    paths = []
    for seed_file in sorted(base.glob("seed.*")):
        data = np.frombuffer(seed_file.read_bytes(), np.uint8)
        for k in range(MUTANTS_PER_SEED_FILE):
            path = base / f"mutant{k:03d}{seed_file.suffix}"
            path.write_bytes(_mutate(data, rng).tobytes())
            paths.append(path)
    return paths


def test_malformed_containers_never_crash_the_reader(mutants: list[Path]) -> None:
    done = subprocess.run([sys.executable, "-c", WORKER, *map(str, mutants)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    lines = done.stdout.splitlines()
    last = lines[-1].split()[0] if lines else "(none)"
    assert done.returncode == 0, f"reader died (status {done.returncode}) at {last}:\n{done.stderr[-3000:]}"
    outcomes = {line.split()[0]: line.split()[1] for line in lines}
    assert sorted(outcomes) == sorted(map(str, mutants))
    assert set(outcomes.values()) <= {"read", "refused"}
    counts = {kind: sum(v == kind for v in outcomes.values()) for kind in ("read", "refused")}
    assert min(counts.values()) > 0.1 * len(mutants), counts  # the mutations both damage and spare files
