"""udmt.video: frame-exact reading of real (small) H.264 and lossless files, luma paths, damage, errors."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from udmt.errors import InputError, InputWarning, UsageError
from udmt.video import VideoReader, VideoWriter, content_hash, rgb_to_luma

H, W, N = 72, 96, 48


def _pattern(t: int) -> np.ndarray:
    """A moving gradient plus a moving bright square: every frame differs, motion lets x264 use B-frames."""
    yy, xx = np.mgrid[0:H, 0:W]
    frame = ((xx * 2 + yy + 3 * t) % 200 + 20).astype(np.uint8)
    x0 = (5 + 2 * t) % (W - 12)
    frame[20:32, x0 : x0 + 12] = 250
    return frame


@pytest.fixture(scope="module")
def bframe_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "bframes.mp4"
    with VideoWriter(path, W, H, 25, preset="medium") as writer:
        for t in range(N):
            writer.write(_pattern(t))
    return path


def test_video_has_bframes_so_seeking_is_meaningful(bframe_video: Path) -> None:
    with av.open(str(bframe_video)) as container:
        stamps = [p.pts for p in container.demux(video=0) if p.size]
    assert any(b < a for a, b in zip(stamps, stamps[1:])), "decode order equals display order: no B-frames"


def test_sequential_frames_match_what_was_written(bframe_video: Path) -> None:
    with VideoReader(bframe_video) as reader:
        assert (reader.n_frames, reader.width, reader.height, reader.fps) == (N, W, H, 25.0)
        frames = list(reader.frames())
    assert [i for i, _ in frames] == list(range(N))
    for i, frame in frames:
        assert frame.dtype == np.uint8 and frame.shape == (H, W)
        assert np.abs(frame.astype(int) - _pattern(i)).mean() < 2.0  # full-range luma survives, up to CRF 18


def test_random_seeks_equal_sequential_decode(bframe_video: Path) -> None:
    with VideoReader(bframe_video) as reader:
        sequential = [frame for _, frame in reader.frames()]
        rng = np.random.default_rng(7)
        order = [*rng.integers(0, N, 25), N - 1, 0, 10, 11, 12, 3]  # jumps both ways and consecutive reads
        for index in order:
            np.testing.assert_array_equal(reader.read(int(index)), sequential[index], err_msg=f"frame {index}")
        assert [i for i, _ in reader.frames(17, 23)] == list(range(17, 23))
        for i, frame in reader.frames(17, 23):
            np.testing.assert_array_equal(frame, sequential[i])


@pytest.fixture(scope="module")
def short_gop_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """H.264 with B-frames and a keyframe every 12 frames, so that reading a set of frames can seek or decode on."""
    path = tmp_path_factory.mktemp("video") / "gop12.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"x264-params": "keyint=12:min-keyint=12:scenecut=0:bframes=2"}
        for t in range(N):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(_pattern(t), format="gray").reformat(format="yuv420p")))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("indices", [
    [0, 1, 2, 5, 9],  # near each other: decoded on
    [3, 30, 31, 47],  # across keyframes: seeks
    [40, 2, 2, 13, 26, 14],  # any order, repeats: ascending, once each
    list(range(N)),
])  # fmt: skip
def test_frames_at_equals_sequential_decode(short_gop_video: Path, indices: list[int]) -> None:
    with av.open(str(short_gop_video)) as container:
        keyframes = sum(p.is_keyframe for p in container.demux(video=0) if p.size)
    assert keyframes == N // 12
    with VideoReader(short_gop_video) as reader:
        sequential = [frame for _, frame in reader.frames()]
        got = list(reader.frames_at(indices))
        assert [i for i, _ in got] == sorted(set(indices))
        for i, frame in got:
            np.testing.assert_array_equal(frame, sequential[i], err_msg=f"frame {i}")
        with pytest.raises(UsageError, match="outside"):
            list(reader.frames_at([0, N]))


def test_frames_kept_on_the_way_are_handed_out_once_from_memory(short_gop_video: Path) -> None:
    with VideoReader(short_gop_video) as reader:
        sequential = [frame for _, frame in reader.frames()]
        reader.keep([4, 7, 8, 9, 40], max_bytes=4 * W * H)  # room for the first four only
        assert [i for i, _ in reader.frames_at([2, 8, 10])] == [2, 8, 10]  # decodes through 4, 7, 8 and 9
        assert sorted(reader._kept) == [4, 7, 8, 9]  # 8 too: handed out now, and kept for the stage that wants it
        got = list(reader.frames_at([7, 9, 4, 8, 40]))
        assert [i for i, _ in got] == [4, 7, 8, 9, 40]
        assert not reader._kept  # each handed out once; 40 was beyond the room, so decoded
        for i, frame in got:
            np.testing.assert_array_equal(frame, sequential[i], err_msg=f"frame {i}")
        again = dict(reader.frames_at([4]))  # decoded again
        np.testing.assert_array_equal(again[4], sequential[4])


def test_rgb_frames_are_written_and_read_back_as_bt601_luma(tmp_path: Path) -> None:
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[:, :32] = (230, 25, 75)
    rgb[:, 32:64] = (60, 180, 75)
    rgb[:, 64:] = (0, 130, 200)
    with VideoWriter(tmp_path / "rgb.mp4", W, H, 10) as writer:
        for _ in range(3):
            writer.write(rgb)
    with VideoReader(tmp_path / "rgb.mp4") as reader:
        luma = reader.read(1)
    centre = luma[H // 2, [16, 48, 80]].astype(int)
    expected = rgb_to_luma(rgb[H // 2, [16, 48, 80]]).astype(int)
    assert np.abs(centre - expected).max() <= 3
    with av.open(str(tmp_path / "rgb.mp4")) as container:  # colour survives too (full-range BT.601 flags)
        decoded = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(decoded[H // 2, [16, 48, 80]].astype(int) - rgb[H // 2, [16, 48, 80]]).max() <= 6


def _lossless(path: Path, codec: str, pix_fmt: str, frames: list[np.ndarray], in_format: str) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        for t, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format=in_format)
            frame.pts = t
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "suffix"), [("ffv1", "gray", ".mkv"), ("ffv1", "gray16le", ".mkv")]
)
def test_gray_inputs_are_read_without_conversion(tmp_path: Path, codec: str, pix_fmt: str, suffix: str) -> None:
    rng = np.random.default_rng(1)
    gray = [rng.integers(0, 256, (30, 40), dtype=np.uint8) for _ in range(5)]
    wide = pix_fmt == "gray16le"
    arrays = [g.astype(np.uint16) * 257 if wide else g for g in gray]  # 257 * v spans the 16-bit range
    path = tmp_path / f"lossless{suffix}"
    _lossless(path, codec, pix_fmt, arrays, pix_fmt)
    with VideoReader(path) as reader:
        assert reader.n_frames == 5  # mkv states no count: found by demuxing
        for i, frame in reader.frames():
            np.testing.assert_array_equal(frame, gray[i])
        np.testing.assert_array_equal(reader.read(3), gray[3])


def test_rgb_input_is_converted_to_luma_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    rgb = [rng.integers(0, 256, (30, 40, 3), dtype=np.uint8) for _ in range(3)]
    _lossless(tmp_path / "rgb.mov", "png", "rgb24", rgb, "rgb24")
    with VideoReader(tmp_path / "rgb.mov") as reader:
        for i, frame in reader.frames():
            np.testing.assert_array_equal(frame, rgb_to_luma(rgb[i]))


def test_rgb_to_luma_is_bt601() -> None:
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [10, 20, 30]], np.uint8)
    exact = colours @ np.array([0.299, 0.587, 0.114])
    assert np.abs(rgb_to_luma(colours).astype(float) - exact).max() <= 0.5 + 1e-9


def test_odd_sizes_are_padded_keeping_coordinates(tmp_path: Path) -> None:
    frame = np.full((31, 45), 40, np.uint8)
    frame[10, 20] = 250
    with VideoWriter(tmp_path / "odd.mp4", 45, 31, 10, crf=0) as writer:
        writer.write(frame)
    with VideoReader(tmp_path / "odd.mp4") as reader:
        assert (reader.width, reader.height) == (46, 32)
        decoded = reader.read(0)
    assert np.unravel_index(np.argmax(decoded), decoded.shape) == (10, 20)
    with pytest.raises(ValueError, match="uint8"):
        VideoWriter(tmp_path / "bad.mp4", 45, 31, 10).write(np.zeros((31, 45), np.float32))


def test_truncated_file_yields_what_decodes_then_warns(bframe_video: Path, tmp_path: Path) -> None:
    data = bframe_video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with VideoReader(bframe_video) as whole:
        reference = [frame for _, frame in whole.frames()]
    with VideoReader(cut) as reader:
        assert reader.n_frames == N  # the container still states the full count
        with pytest.warns(UserWarning, match="truncated or corrupt"):
            got = list(reader.frames())
        assert 0 < len(got) < N
        assert reader.truncated_at == len(got)
        for i, frame in got:
            np.testing.assert_array_equal(frame, reference[i])
        with pytest.raises(InputError, match=f"frame {N - 1}"):
            reader.read(N - 1)
    with VideoReader(cut) as reader, pytest.warns(UserWarning, match="truncated or corrupt"):
        assert [i for i, _ in reader.frames_at([1, 3, N - 2, N - 1])] == [1, 3]  # up to the damage, then stops


def test_unreadable_inputs_raise_one_line_input_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    cases = {tmp_path / "missing.mp4": "no such video", tmp_path: "is a directory", empty: "empty file",
             text: "not a readable video"}  # fmt: skip
    for path, message in cases.items():
        with pytest.raises(InputError, match=message) as err:
            VideoReader(path)
        assert "\n" not in str(err.value) and str(path) in str(err.value)
        assert err.value.exit_code == 3


def test_content_hash_is_cheap_and_stable(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    big = rng.integers(0, 256, 3 << 20, dtype=np.uint8)
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(big.tobytes())
    big[len(big) // 2] ^= 1  # a change in the unhashed middle: same hash (the price of cheapness)
    b.write_bytes(big.tobytes())
    assert content_hash(a) == content_hash(b)
    big[-1] ^= 1
    b.write_bytes(big.tobytes())
    assert content_hash(a) != content_hash(b)
    b.write_bytes(big.tobytes()[:-1])
    assert content_hash(a) != content_hash(b)


@pytest.mark.parametrize("fraction", [0.5, 0.65, 0.8, 0.97])
def test_readable_frames_of_a_cut_file_is_the_last_frame_that_decodes(bframe_video: Path, tmp_path: Path,
                                                                      fraction: float) -> None:  # fmt: skip
    """The demuxer counts packets, but the last packets of a cut file are often incomplete: decode to be exact."""
    data = bframe_video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with VideoReader(bframe_video) as whole:
        reference = [frame for _, frame in whole.frames()]
    with pytest.warns(InputWarning, match="truncated or corrupt"):
        with VideoReader(cut) as reader:
            readable = reader.readable_frames
            assert readable == reader.truncated_at < N
            assert len(reader.frame_times()) >= readable  # the index may list packets that do not decode
            np.testing.assert_array_equal(reader.read(readable - 1), reference[readable - 1])  # the last good one
            with pytest.raises(InputError, match=f"frame {readable}"):
                reader.read(readable)
    with VideoReader(cut) as reader, pytest.warns(InputWarning):  # frame threads may drop a frame or two more
        assert readable - 3 <= sum(1 for _ in reader.frames()) <= readable


def test_an_intact_file_reads_all_frames_without_warning(bframe_video: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with VideoReader(bframe_video) as reader:
            assert reader.readable_frames == N and reader.truncated_at is None
            np.testing.assert_array_equal(reader.frame_times(), np.arange(N) / 25.0)


def test_frame_times_follow_a_variable_frame_rate(tmp_path: Path) -> None:
    stamps = [0, 40, 70, 130, 140, 200, 260, 275]  # ms, irregular
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "gray"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for t, ms in enumerate(stamps):
            frame = av.VideoFrame.from_ndarray(_pattern(t), format="gray")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with VideoReader(path) as reader:
        np.testing.assert_allclose(reader.frame_times(), np.array(stamps) / 1000.0)
        for t in (5, 2, 7):  # frame-exact by index, whatever the spacing in time
            np.testing.assert_array_equal(reader.read(t), _pattern(t))
