"""Video input and output through PyAV.

The reader hands out the luma plane as ``uint8 (H, W)`` frames, taken straight from the decoder's buffer (no
swscale round trip for YUV and gray streams, which is what almost every camera writes). Frame ``i`` is the
i-th frame in presentation order; random access is frame-exact through an index of packet timestamps built
by demuxing once (milliseconds), because seeking by time lands on the preceding keyframe when the stream has
B-frames. A truncated recording yields every frame up to the damage, then warns and stops.

The writer encodes gray or RGB ``uint8`` frames as H.264 (libx264, yuv420p flagged full range) in an mp4
with the index at the front, so that a recording cut short stays readable up to the cut.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import warnings
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.error
import numpy as np

from udmt.errors import InputError, InputWarning, UsageError

#: Containers whose stream header states a frame count that matches the decodable frames.
_COUNTED_FORMATS = ("mov", "mp4", "avi")
#: Byte layout of packed 8-bit RGB formats: (bytes per pixel, offset of R, G, B).
_PACKED_RGB = {
    "rgb24": (3, 0, 1, 2), "bgr24": (3, 2, 1, 0),
    "rgba": (4, 0, 1, 2), "bgra": (4, 2, 1, 0), "argb": (4, 1, 2, 3), "abgr": (4, 3, 2, 1),
    "rgb0": (4, 0, 1, 2), "bgr0": (4, 2, 1, 0), "0rgb": (4, 1, 2, 3), "0bgr": (4, 3, 2, 1),
}  # fmt: skip
_HASH_SPAN = 1 << 20
#: Frames decoded at the end of a truncated file to find its last good frame (a few GOPs; well under a second).
_TAIL_FRAMES = 64
#: Frames :meth:`VideoReader.frames_at` decodes on rather than seek: a seek restarts the decoder's threads.
SEEK_SLACK = 8


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of ``(..., 3)`` uint8 data, rounded, in integer arithmetic."""
    r, g, b = (rgb[..., k].astype(np.uint32) for k in range(3))
    return ((19595 * r + 38470 * g + 7471 * b + 32768) >> 16).astype(np.uint8)


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The frame's luma as a fresh ``uint8 (H, W)`` array, read from the plane buffer where the format allows."""
    fmt = frame.format
    h, w = frame.height, frame.width
    first = fmt.components[0]
    if not fmt.is_rgb and not fmt.has_palette and first.is_luma and (fmt.is_planar or len(fmt.components) == 1):
        plane = frame.planes[0]
        if first.bits == 8:
            return np.frombuffer(plane, np.uint8).reshape(h, plane.line_size)[:, :w].copy()
        dtype = ">u2" if fmt.is_big_endian else "<u2"
        wide = np.frombuffer(plane, dtype).reshape(h, plane.line_size // 2)[:, :w].astype(np.uint32)
        top = (1 << first.bits) - 1  # scale so that full scale maps to 255, rounding to nearest
        return ((np.minimum(wide, top) * 255 + top // 2) // top).astype(np.uint8)
    if fmt.name in _PACKED_RGB:
        step, r, g, b = _PACKED_RGB[fmt.name]
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(h, plane.line_size)[:, : w * step].reshape(h, w, step)
        return rgb_to_luma(rows[..., [r, g, b]])
    if fmt.is_rgb or fmt.has_palette:
        return rgb_to_luma(frame.to_ndarray(format="rgb24"))
    return frame.to_ndarray(format="gray")  # packed YUV and other rarities: let swscale pick the luma


def _open_container(path: Path) -> av.container.InputContainer:
    """Open ``path`` for reading or raise a one-line :class:`InputError` saying what is wrong with it."""
    if not path.exists():
        raise InputError(f"{path}: no such video file; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a video file; give the video file inside it")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes); the recording was not written, re-copy or re-record it")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err).strip() else ""
        raise InputError(f"{path}: not a readable video ({err.__class__.__name__}: {reason}); "
                         "convert it with ffmpeg or check that the file is complete") from None  # fmt: skip
    streams = container.streams.video
    if not streams:
        container.close()
        raise InputError(f"{path}: contains no video stream")
    context = streams[0].codec_context
    if context is None or context.width <= 0 or context.height <= 0:
        container.close()
        raise InputError(f"{path}: its video stream has no decoder or no frame size (damaged header or "
                         "unsupported codec); re-encode it with ffmpeg")  # fmt: skip
    return container


class VideoReader:
    """Frame-exact reader of the luma plane of a video's first video stream (a context manager).

    ``n_frames`` is the count the container states (mp4, mov, avi) or, for other containers, the count of
    packets found by demuxing once. If the file ends early, the frames that decode are still served;
    ``truncated_at`` then holds the first frame that could not be decoded and a warning is issued.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._container = _open_container(self.path)
        stream = self._container.streams.video[0]
        self.width: int = stream.codec_context.width
        self.height: int = stream.codec_context.height
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            self._container.close()
            raise InputError(f"{self.path}: the video stream states no frame rate; remux it with ffmpeg -r FPS")
        self.fps: float = float(rate)
        self.truncated_at: int | None = None
        self._warned = False
        self._stated = stream.frames if self._container.format.name.split(",")[0] in _COUNTED_FORMATS else 0
        self._pts: list[int] | None = None
        self._keyframes: list[int] = []  # indices of the frames a seek can land on, ascending
        self._index_of: dict[int, int] | None = None
        self._cursor: tuple[int, Iterator[tuple[int, np.ndarray]]] | None = None
        self._keep: set[int] = set()  # frames to hold on to when a read decodes them (:meth:`keep`)
        self._kept: dict[int, np.ndarray] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.close()

    def close(self) -> None:
        """Release the decoder, the file and any frames held for :meth:`keep`."""
        self._cursor = None
        self._keep.clear()
        self._kept.clear()
        self._container.close()

    def keep(self, indices: Iterable[int], max_bytes: int) -> None:
        """Hold on to frames ``indices`` (the first that fit in ``max_bytes``) when :meth:`frames_at` decodes them on
        the way to other frames, and hand each out once from memory to the :meth:`frames_at` that asks for it.

        Between frames sampled across a video with long GOPs the decoder runs through almost every frame anyway
        (sleap clip: 250-frame GOPs, the scene model's 50 samples), so a later stage that wants other frames across
        the video (the training clips) need not decode the video again.
        """
        room = max(0, max_bytes // max(1, self.width * self.height))
        self._keep = set(sorted({int(i) for i in indices})[:room])

    # -- index -----------------------------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        """Number of frames: the container's stated count where it has one, else the demuxed count."""
        return self._stated if self._stated > 0 else len(self.pts_index)

    @property
    def pts_index(self) -> list[int]:
        """Presentation timestamps of all frames in display order (demuxed once, on first use)."""
        if self._pts is None:
            self._load_index()
        return self._pts  # type: ignore[return-value]  # set by _load_index

    def _load_index(self) -> None:
        stamps, keys, damaged = _demux_stamps(self.path)
        if any(s is None for s in stamps):
            raise InputError(f"{self.path}: packets carry no timestamps, so frames cannot be addressed; "
                             "remux it with `ffmpeg -i IN -c copy OUT.mp4`")  # fmt: skip
        self._pts = sorted(stamps)  # type: ignore[arg-type]  # no None: checked above
        self._keyframes = sorted(bisect.bisect_left(self._pts, k) for k in keys)
        if damaged or len(self._pts) < self._stated:
            self._mark_truncated(len(self._pts), confirmed=False)  # decoding finds the exact frame

    @property
    def readable_frames(self) -> int:
        """Frames that decode: ``n_frames``, or those before the damage of a file that ends early.

        The last packets of a cut file are often incomplete, so the tail is decoded (one thread) to find the exact
        frame; :meth:`frames`' frame-threaded decoder may lose one or two more at the damage.
        """
        stamps = len(self.pts_index)
        if self.truncated_at is None:
            return self.n_frames
        container = _open_container(self.path)
        try:
            start = max(0, stamps - _TAIL_FRAMES)
            for _ in self._decode(container, start, seek=start > 0):
                pass
        finally:
            container.close()
        return self.truncated_at  # type: ignore[return-value]  # set above, lowered by the decode

    def frame_times(self) -> np.ndarray:
        """Presentation time of each indexed frame, in seconds from the first: the true clock of a variable
        frame rate video, where ``index / fps`` drifts."""
        stamps = np.asarray(self.pts_index, np.float64)
        if not len(stamps):
            return stamps
        base = self._container.streams.video[0].time_base
        return (stamps - stamps[0]) * base.numerator / base.denominator  # one rounding: k/fps exactly for CFR

    def _mark_truncated(self, index: int, *, confirmed: bool = True) -> None:
        """Record that frames from ``index`` on cannot be read; warn (once per new low) when decoding confirms it."""
        lower = self.truncated_at is None or index < self.truncated_at
        if lower:
            self.truncated_at = index
        if confirmed and (lower or not self._warned):
            self._warned = True
            warnings.warn(f"{self.path}: truncated or corrupt after frame {self.truncated_at - 1}; "
                          f"frames from {self.truncated_at} on cannot be read", InputWarning, stacklevel=3)  # fmt: skip

    # -- decoding --------------------------------------------------------------------------------------------
    def _decode(self, container: av.container.InputContainer, start: int, *, seek: bool = True
                ) -> Iterator[tuple[int, np.ndarray]]:  # fmt: skip
        """Decode from frame ``start`` to the end (or the damage), yielding ``(index, luma)``.

        Frames are numbered by their timestamps in the index, so a frame that fails to decode stops the
        sequence instead of shifting every later number. ``seek=False`` is only for a fresh container read
        from the first frame.
        """
        stamps = self.pts_index
        if self._index_of is None:
            self._index_of = {stamp: i for i, stamp in enumerate(stamps)}
        index = start  # the next frame to hand out
        damage: list[bool] = []
        for frame in _decoded_frames(container, stamps[start] if seek else None, damage):
            got = index if frame.pts is None else self._index_of.get(frame.pts)  # by timestamp, not by count
            if got is None or got < index:
                continue  # decoded from the keyframe before ``start``, or a stamp the index does not know
            if got > index or (frame.height, frame.width) != (self.height, self.width):
                damage.append(True)  # frame ``index`` did not decode, or the stream changed size: stop here
                break
            yield index, luma(frame)
            index += 1
        damaged = bool(damage)
        expected = self._stated if self._stated > 0 else (len(self._pts) if self._pts is not None else 0)
        if damaged or index < expected:
            self._mark_truncated(index)

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for frames ``start <= index < stop`` in order (one seek, then decode).

        Each call decodes through its own demuxer, so several iterators (or one and :meth:`read`) can be
        in use at once.
        """
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        if not 0 <= start <= stop:
            raise UsageError(f"{self.path}: frame range {start}..{stop} is outside 0..{self.n_frames}")
        if start == stop:
            return
        container = _open_container(self.path)
        container.streams.video[0].thread_type = "AUTO"
        try:
            for index, frame in self._decode(container, start, seek=start > 0):
                if index >= stop:
                    break
                yield index, frame
        finally:
            container.close()

    def frames_at(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for the distinct ``indices`` in ascending order, through one decoder.

        Between two wanted frames it decodes on unless a keyframe lies more than SEEK_SLACK frames past the frame it
        holds (and no frame to :meth:`keep` lies before it): a seek decodes from the keyframe before the target, so
        it saves work only then. Windows spread through a video with long GOPs cost what their own frames cost, not
        half a GOP of lead-in each.
        """
        wanted = sorted({int(i) for i in indices})
        if wanted and not 0 <= wanted[0] <= wanted[-1] < self.n_frames:
            raise UsageError(f"{self.path}: frames {wanted[0]}..{wanted[-1]} are outside 0..{self.n_frames - 1}")
        container: av.container.InputContainer | None = None  # opened for the first frame not held in memory
        try:
            held, decoded = 0, iter(())  # held: the next frame ``decoded`` gives
            for target in wanted:
                if target in self._kept:
                    yield target, self._kept.pop(target)
                    continue
                if container is None:
                    container = _open_container(self.path)
                    container.streams.video[0].thread_type = "AUTO"
                    decoded = self._decode(container, 0, seek=False)
                keyframe = self._keyframe_at_or_before(target)
                if keyframe > held + SEEK_SLACK and not any(held <= i < keyframe for i in self._keep):
                    decoded = self._decode(container, target)  # targets only ascend
                for index, frame in decoded:
                    held = index + 1
                    if index in self._keep:
                        self._keep.discard(index)
                        self._kept[index] = frame
                    if index == target:
                        yield index, frame
                        break
                else:
                    return  # the damage: ``_decode`` has warned
        finally:
            if container is not None:
                container.close()

    def _keyframe_at_or_before(self, index: int) -> int:
        if self._pts is None:
            self._load_index()
        k = bisect.bisect_right(self._keyframes, index)
        return self._keyframes[k - 1] if k else 0

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` exactly: seek to its timestamp and decode forward (consecutive reads do not seek)."""
        if not 0 <= index < self.n_frames:
            raise UsageError(f"{self.path}: frame {index} does not exist (the video has {self.n_frames} frames)")
        if self.truncated_at is not None and index >= self.truncated_at:
            raise InputError(f"{self.path}: frame {index} lies after the damage at frame {self.truncated_at}")
        if self._cursor is not None and self._cursor[0] == index:
            iterator = self._cursor[1]
        else:
            iterator = self._decode(self._container, index)
        for got, frame in iterator:
            self._cursor = (got + 1, iterator)
            if got == index:
                return frame
        self._cursor = None
        raise InputError(f"{self.path}: frame {index} could not be decoded (file damaged at frame "
                         f"{self.truncated_at}); re-copy the file or track only the frames before it")  # fmt: skip

    def content_hash(self) -> str:
        """sha256 of the file size and its first and last MiB: stable, and cheap even for multi-GB files."""
        return content_hash(self.path)


def _decoded_frames(container: av.container.InputContainer, seek_pts: int | None, damage: list[bool]
                    ) -> Iterator[av.VideoFrame]:  # fmt: skip
    """Every frame the decoder gives from the keyframe before ``seek_pts`` (or from the start); at damage, what
    the decoder still holds, after which ``damage`` is non-empty."""
    stream = container.streams.video[0]
    try:
        if seek_pts is not None:
            container.seek(seek_pts, stream=stream, backward=True)  # also resets the decoder
        for packet in container.demux(stream):
            yield from packet.decode()
    except av.error.FFmpegError:  # a damaged packet, or a demuxer or seek that gave up
        damage.append(True)
        try:
            yield from stream.codec_context.decode(None)  # drain what the decoder still holds
        except av.error.FFmpegError:
            pass  # nothing more to salvage


def _demux_stamps(path: Path) -> tuple[list[int | None], list[int], bool]:
    """Timestamps of every video packet in file order and of the keyframes among them, read by a fresh demuxer,
    and whether demuxing hit damage."""
    container = _open_container(path)
    stamps: list[int | None] = []
    keys: list[int] = []
    try:
        for packet in container.demux(container.streams.video[0]):
            if packet.size and not packet.is_discard:
                stamps.append(packet.pts if packet.pts is not None else packet.dts)
                if packet.is_keyframe and stamps[-1] is not None:
                    keys.append(stamps[-1])
    except av.error.FFmpegError:
        return stamps, keys, True
    finally:
        container.close()
    return stamps, keys, False


def content_hash(path: str | os.PathLike[str]) -> str:
    """sha256 (hex) over the file size and its first and last MiB."""
    size = os.path.getsize(path)
    digest = hashlib.sha256(size.to_bytes(8, "little"))
    with open(path, "rb") as fh:
        digest.update(fh.read(_HASH_SPAN))
        if size > _HASH_SPAN:
            fh.seek(max(_HASH_SPAN, size - _HASH_SPAN))
            digest.update(fh.read(_HASH_SPAN))
    return digest.hexdigest()


class VideoWriter:
    """H.264 mp4 writer for ``uint8`` gray ``(H, W)`` or RGB ``(H, W, 3)`` frames (a context manager).

    Frames become yuv420p flagged full range with BT.601 coefficients, converted here in numpy, so that a
    gray frame's values come back unchanged (up to compression) from :class:`VideoReader`. Odd sizes are
    padded by one replicated column/row on the right/bottom (4:2:0 needs even sizes), which leaves pixel
    coordinates unchanged.
    """

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, fps: float, *, crf: int = 18,
                 preset: str = "veryfast", threads: int = 0) -> None:  # fmt: skip
        if width <= 0 or height <= 0 or fps <= 0:
            raise UsageError(f"{path}: cannot write a {width}x{height} video at {fps} fps")
        self.path = Path(path)
        self.width, self.height = width, height
        self._coded = (height + height % 2, width + width % 2)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w", options={"movflags": "+faststart"})
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.height, self._stream.width = self._coded
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(crf), "preset": preset}
        ctx = self._stream.codec_context
        ctx.thread_count = threads
        ctx.color_range = 2  # AVCOL_RANGE_JPEG: full range
        ctx.colorspace = 6  # AVCOL_SPC_SMPTE170M: BT.601
        self._yuv = np.full((self._coded[0] * 3 // 2, self._coded[1]), 128, np.uint8)  # I420 layout
        self._count = 0

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.close()

    def write(self, frame: np.ndarray) -> None:
        """Append one gray ``(H, W)`` or RGB ``(H, W, 3)`` uint8 frame."""
        if frame.dtype != np.uint8 or frame.shape not in ((self.height, self.width), (self.height, self.width, 3)):
            raise ValueError(f"expected a uint8 ({self.height}, {self.width}[, 3]) frame, "
                             f"got {frame.dtype} {frame.shape}")  # fmt: skip
        rows = self._coded[0]
        padded = self._pad(frame)
        if frame.ndim == 2:
            self._yuv[:rows] = padded
            self._yuv[rows:] = 128  # neutral chroma, also after an RGB frame
        else:
            self._yuv[:rows] = rgb_to_luma(padded)
            mean = padded.reshape(rows // 2, 2, -1, 2, 3).mean(axis=(1, 3), dtype=np.float32)
            r, g, b = mean[..., 0], mean[..., 1], mean[..., 2]
            chroma = self._yuv[rows:].reshape(2, rows // 2, -1)  # I420: the U plane, then the V plane
            chroma[0] = np.clip(np.rint(128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b), 0, 255)
            chroma[1] = np.clip(np.rint(128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b), 0, 255)
        av_frame = av.VideoFrame.from_ndarray(self._yuv, format="yuv420p")
        av_frame.color_range = 2
        av_frame.pts = self._count
        self._count += 1
        for packet in self._stream.encode(av_frame):
            self._container.mux(packet)

    def _pad(self, frame: np.ndarray) -> np.ndarray:
        ph, pw = self._coded[0] - self.height, self._coded[1] - self.width
        if not ph and not pw:
            return frame
        return np.pad(frame, ((0, ph), (0, pw)) + ((0, 0),) * (frame.ndim - 2), mode="edge")

    def close(self) -> None:
        """Flush the encoder and finish the file (idempotent)."""
        if self._container is None:
            return
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._container = None  # type: ignore[assignment]
