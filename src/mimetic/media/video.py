"""Videos with PyAV: probing, streaming frame iteration (flat memory) and atomic MP4 writing."""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.error
import numpy as np

from mimetic.errors import InputError
from mimetic.media.atomic import atomic_path
from mimetic.media.container import damage
from mimetic.media.files import check_input_file

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}

#: Frame rate assumed for timestamps when a container gives neither pts nor a rate.
_FALLBACK_FPS = 30.0
#: Slack (seconds) when comparing frame timestamps with start/end and the fps sampling grid.
_EPS = 1e-3
#: Frames decoded ahead of the analysis by the analysing loops (``iter_frames(read_ahead=...)``).
READ_AHEAD = 2
#: How many packets probe_video reads at most to find the first frame (for the display rotation).
_PROBE_PACKETS = 64
#: ``iter_frames(start=...)`` seeks to the keyframe at or before ``start`` from this many seconds on; earlier
#: starts (and streams where a seek cannot give exact frame indices) decode from the beginning.
_SEEK_FROM = 1.0


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video's first video stream.

    ``width``/``height`` are the displayed size, i.e. after ``rotation`` (the counter-clockwise display
    rotation from the stream's display matrix, as phones record portrait video), which ``iter_frames`` applies.
    """

    path: str
    width: int
    height: int
    fps: float  # average frame rate; 0.0 when unknown
    frame_count: int | None  # the container's estimate; None when it has none
    duration: float | None  # seconds
    codec: str
    rotation: int = 0


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """One decoded frame. ``index`` counts every decoded frame (0-based), sampled or not."""

    index: int
    timestamp: float  # seconds from the stream start
    image: np.ndarray  # (H, W, 3) uint8 RGB, C-contiguous


def _check_file(path: str | os.PathLike[str]) -> tuple[Path, str]:
    return check_input_file(path, "a video file")


def _open(path: Path, label: str) -> Any:
    try:
        return av.open(str(path), mode="r", metadata_errors="replace")
    except FileNotFoundError:
        raise InputError(label, "file not found") from None
    except PermissionError:
        raise InputError(label, "permission denied") from None
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InputError(label, damage(path) or f"not a video or unsupported container: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split()) or type(exc).__name__


def _video_stream(container: Any, label: str) -> Any:
    if not container.streams.video:
        raise InputError(label, "no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise InputError(label, "cannot decode codec: no decoder for this stream's codec in this FFmpeg build")
    try:
        av.codec.Codec(stream.codec_context.name, "r")
    except Exception:
        raise InputError(label, f"cannot decode codec {stream.codec_context.name}") from None
    return stream


def _rate(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(rate)
            if math.isfinite(value) and value > 0:
                return value
    return 0.0


def _to_rgb(frame: Any) -> np.ndarray:
    """Decoded frame -> (H, W, 3) uint8 RGB, turned upright by the display rotation."""
    try:
        rgb = frame.to_ndarray(format="rgb24", src_color_range=frame.color_range)
    except (TypeError, ValueError):
        rgb = frame.to_ndarray(format="rgb24")
    k = round(frame.rotation / 90) % 4 if frame.rotation else 0
    if k:
        rgb = np.rot90(rgb, k)
    return np.ascontiguousarray(rgb)


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's header (and its first frame, for the display rotation). Raises :class:`InputError`."""
    p, label = _check_file(path)
    container = _open(p, label)
    try:
        stream = _video_stream(container, label)
        ctx = stream.codec_context
        tb = stream.time_base
        if stream.duration and tb:
            duration: float | None = float(stream.duration * tb)
        elif container.duration:
            duration = container.duration / av.time_base
        else:
            duration = None
        rotation = _first_frame_rotation(container, stream)
        width, height = ctx.width, ctx.height
        if rotation % 180:
            width, height = height, width
        return VideoInfo(
            path=label,
            width=int(width),
            height=int(height),
            fps=_rate(stream),
            frame_count=int(stream.frames) if stream.frames else None,
            duration=duration,
            codec=ctx.name,
            rotation=rotation,
        )
    finally:
        container.close()


def _first_frame_rotation(container: Any, stream: Any) -> int:
    """The display rotation of the first decodable frame, 0 if none is found quickly."""
    try:
        for n, packet in enumerate(container.demux(stream)):
            if n >= _PROBE_PACKETS:
                break
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            if frames:
                return int(round(frames[0].rotation / 90) * 90) % 360 if frames[0].rotation else 0
    except av.error.FFmpegError:
        pass
    return 0


def expected_frames(path: str | os.PathLike[str], *, fps: float | None = None, stride: int = 1, start: float = 0.0,
                    end: float | None = None) -> int | None:
    """How many frames :func:`iter_frames` will yield with these settings, from the container's header (for
    progress bars; an estimate, ``None`` when the container gives no frame count or duration)."""
    info = probe_video(path)
    rate = info.fps or None
    duration = info.duration or (info.frame_count / rate if info.frame_count and rate else None)
    if duration is None or rate is None:
        return info.frame_count or None
    span = max(0.0, min(end if end is not None else duration, duration) - start)
    total = info.frame_count if span == duration and info.frame_count else int(round(span * rate))
    total = -(-total // max(stride, 1))
    if fps:
        total = min(total, int(span * fps) + 1)
    return total or None


def iter_frames(
    path: str | os.PathLike[str],
    *,
    fps: float | None = None,
    stride: int = 1,
    start: float = 0.0,
    end: float | None = None,
    read_ahead: int = 0,
) -> Iterator[VideoFrame]:
    """Decode a video as a stream of RGB frames, holding one frame at a time.

    Frames with ``start <= timestamp < end`` are considered; of those, ``stride`` keeps every Nth and ``fps``
    keeps at most ``fps`` frames per second (a frame is kept when its timestamp reaches the next point of a
    1/fps grid starting at ``start``). Both may be combined. ``index`` always counts every frame from the
    beginning: a ``start`` of a second or more seeks to the keyframe at or before it and derives the index from the
    frame's pts when the stream has a constant frame rate its time base represents exactly (:func:`_seek`); other
    streams are decoded from the beginning, the earlier frames dropped. Packets the decoder rejects are skipped
    (logged).
    Arguments are checked at once (ValueError); file problems raise :class:`InputError`, and a video where
    nothing decodes raises ``InputError(path, "video has no frames ...")`` when iteration ends.
    ``read_ahead`` > 0 decodes in a background thread up to that many frames ahead of the consumer
    (:func:`mimetic.media.readahead.read_ahead`), overlapping decoding with the caller's work on another core.
    """
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be an integer >= 1, got {stride!r}")
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a number > 0 (or None for every frame), got {fps!r}")
    if not math.isfinite(start) or start < 0:
        raise ValueError(f"start must be a number of seconds >= 0, got {start!r}")
    if end is not None and not end > start:
        raise ValueError(f"end must be greater than start ({start!r}), got {end!r}")
    if isinstance(read_ahead, bool) or not isinstance(read_ahead, int) or read_ahead < 0:
        raise ValueError(f"read_ahead must be an integer >= 0, got {read_ahead!r}")
    p, label = _check_file(path)
    frames = _iter_frames(p, label, fps, stride, float(start), end)
    if read_ahead:
        from mimetic.media.readahead import read_ahead as ahead

        return ahead(frames, read_ahead, name=f"decode {p.name}")
    return frames


class _Counts:
    bad_packets = 0
    demux_error: BaseException | None = None


def _decoded(container: Any, stream: Any, counts: _Counts) -> Iterator[Any]:
    """Decoded frames in presentation order; bad packets are counted and skipped."""
    demux = container.demux(stream)
    while True:
        try:
            packet = next(demux)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:  # the container itself is unreadable from here on
            counts.demux_error = exc
            break
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            counts.bad_packets += 1
            log.debug("skipping undecodable packet (pts=%s): %s", packet.pts, exc)
            continue
        yield from frames
    try:  # flush the frames the decoder still holds (the demuxer's final empty packet normally does this)
        yield from stream.codec_context.decode(None)
    except av.error.FFmpegError:
        pass


def _frame_ticks(stream: Any) -> int | None:
    """One frame's duration in ``stream.time_base`` ticks when the container declares a constant frame rate (its
    average rate equals the rate every timestamp fits, FFmpeg's r_frame_rate) that the time base represents
    exactly; else None (variable or unknown frame rate)."""
    avg, real, tb = stream.average_rate, stream.base_rate, stream.time_base
    if not avg or not real or not tb or Fraction(avg) != Fraction(real):
        return None
    ticks = 1 / (Fraction(avg) * Fraction(tb))
    return int(ticks) if ticks.denominator == 1 and ticks > 0 else None


def _seek(container: Any, stream: Any, start: float, t0: float, counts: _Counts,
          label: str) -> tuple[int, Iterator[Any]] | None:
    """Seek for ``iter_frames(start=...)``: ``(index, frames)``, the decoded frames from the first one at or after
    ``start`` on and that frame's index counted from the beginning, or None where that index cannot be exact.

    The index is ``(pts - first pts) / ticks per frame``, so it needs a constant frame rate (:func:`_frame_ticks`);
    the first pts is the first decoded frame's (one frame decoded from the beginning). After the seek to the
    keyframe at or before ``start``, every frame up to ``start`` must lie on that grid, one frame after the other,
    and the frame before the landing must lie before ``start``. None also when the seek fails, lands after
    ``start`` or decodes nothing; the container has then moved and the caller reopens it.
    """
    ticks = _frame_ticks(stream)
    if ticks is None:
        log.debug("%s: no constant frame rate (average %s, r_frame_rate %s, time base %s): not seeking",
                  label, stream.average_rate, stream.base_rate, stream.time_base)
        return None
    tb = Fraction(stream.time_base)
    head = _decoded(container, stream, _Counts())
    first = next(head, None)
    head.close()
    if first is None or first.pts is None or first.time_base != tb:
        return None
    origin = int(first.pts)
    target = int(stream.start_time or 0) + math.floor(start / tb)
    try:
        container.seek(target, stream=stream, backward=True, any_frame=False)
    except (av.error.FFmpegError, OSError) as exc:
        log.debug("%s: seek to %.3f s failed (%s): decoding from the beginning", label, start, _describe(exc))
        return None
    frames = _decoded(container, stream, counts)
    previous: int | None = None
    landing = 0
    for frame in frames:
        pts = frame.pts
        if pts is None or frame.time_base != tb or pts < origin or (pts - origin) % ticks:
            why = f"frame pts {pts} off the {ticks}-tick grid from {origin}"
            break
        index = (pts - origin) // ticks
        if previous is None:
            if index and float((pts - ticks) * tb) - t0 >= start - _EPS:
                why = f"landed at {float(pts * tb) - t0:.3f} s, after the start"
                break
            landing = index
        elif index != previous + 1:
            why = f"frame {index} follows frame {previous}"
            break
        previous = index
        if float(pts * tb) - t0 >= start - _EPS:
            log.debug("%s: start %.3f s: seeked to the keyframe at frame %d, first frame kept %d",
                      label, start, landing, index)
            return index, itertools.chain([frame], frames)
    else:
        if previous is not None:  # the stream ends before the start: nothing to yield, as from the beginning
            return previous + 1, iter(())
        why = "no frame after the seek"
    frames.close()
    log.debug("%s: seek to %.3f s not exact (%s): decoding from the beginning", label, start, why)
    return None


def _iter_frames(
    path: Path, label: str, fps: float | None, stride: int, start: float, end: float | None
) -> Iterator[VideoFrame]:
    container = _open(path, label)
    try:
        stream = _video_stream(container, label)
        stream.thread_type = "AUTO"
        rate = _rate(stream) or _FALLBACK_FPS
        t0 = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        step = 1.0 / fps if fps else 0.0
        next_due = start
        counts = _Counts()
        decoded = 0
        frames: Iterator[Any] | None = None
        if start >= _SEEK_FROM:
            landed = _seek(container, stream, start, t0, counts, label)
            if landed is None:  # the seek may have moved the demuxer: decode the file again from its beginning
                container.close()
                container = _open(path, label)
                stream = _video_stream(container, label)
                stream.thread_type = "AUTO"
                counts = _Counts()
            else:
                decoded, frames = landed
        if frames is None:
            frames = _decoded(container, stream, counts)
        in_range = 0
        for frame in frames:
            index = decoded
            decoded += 1
            if frame.pts is not None and frame.time_base:
                timestamp = float(frame.pts * frame.time_base) - t0
            else:
                timestamp = index / rate
            if end is not None and timestamp >= end - _EPS:
                break
            if timestamp < start - _EPS:
                continue
            keep = in_range % stride == 0
            in_range += 1
            if not keep:
                continue
            if step:
                if timestamp < next_due - _EPS:
                    continue
                next_due = start + (math.floor((timestamp - start + _EPS) / step) + 1) * step
            yield VideoFrame(index=index, timestamp=timestamp, image=_to_rgb(frame))
        if counts.bad_packets:
            log.warning("%s: skipped %d packet(s) that could not be decoded", label, counts.bad_packets)
        cut = damage(path) if (counts.demux_error is not None or counts.bad_packets or decoded == 0
                               or end is None) else None
        if cut is not None:  # the same cause as the web's upload check (mimetic.media.container.damage)
            if decoded == 0:
                raise InputError(label, cut)
            log.warning("%s: %s; %d frames before the cut were decoded", label, cut, decoded)
        if counts.demux_error is not None:
            if decoded == 0:
                raise InputError(label, f"truncated or corrupt video data: {_describe(counts.demux_error)}")
            if cut is None:
                log.warning("%s: stopped after %d frames, unreadable data: %s", label, decoded, counts.demux_error)
        if decoded == 0:
            extra = f" ({counts.bad_packets} packets could not be decoded)" if counts.bad_packets else ""
            raise InputError(label, f"video has no frames{extra}")
    finally:
        container.close()


def _pick_encoder(codec: str) -> str:
    """``codec`` if this PyAV build can encode it, else ``mpeg4`` (always built in)."""
    for name in (codec, "mpeg4"):
        try:
            av.codec.Codec(name, "w")
        except Exception:
            continue
        if name != codec:
            log.warning("video encoder %s is not available in this PyAV build; using %s", codec, name)
        return name
    raise RuntimeError(f"no usable video encoder ({codec} and mpeg4 are both unavailable)")


class _Aborted(Exception):
    """Thrown into the atomic_path context to discard the temporary file."""


class VideoWriter:
    """Write RGB frames to a video file atomically (context manager).

    Frames go to a hidden temporary file beside ``path``; :meth:`close` moves it onto ``path``. If the ``with``
    block raises, or :meth:`abort` is called, the temporary file is deleted and ``path`` is left untouched.
    The first frame fixes the size; odd widths/heights are padded by one edge pixel (yuv420p needs even sizes).
    ``codec`` falls back to ``mpeg4`` when the build lacks it; ``crf`` is libx264's quality (lower = better).
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, *, codec: str = "libx264", crf: int = 20):
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a number > 0, got {fps!r}")
        self.path = Path(path)
        self.fps = float(fps)
        self.codec = _pick_encoder(codec)
        self.crf = int(crf)
        self.frames_written = 0
        self._size: tuple[int, int] | None = None  # (height, width) of the caller's frames
        self._stream: Any = None
        self._closed = False
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        try:
            options = {"movflags": "+faststart"} if self.path.suffix.lower() in (".mp4", ".mov", ".m4v") else {}
            self._container = av.open(str(self._tmp), mode="w", options=options)
        except BaseException as exc:
            self._closed = True
            self._discard(exc)
            raise

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _add_stream(self, height: int, width: int) -> None:
        rate = Fraction(self.fps).limit_denominator(1001)
        stream = self._container.add_stream(self.codec, rate=rate)
        stream.width = width + width % 2
        stream.height = height + height % 2
        stream.pix_fmt = "yuv420p"
        if self.codec in ("libx264", "h264", "libx265", "hevc"):
            stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        else:  # mpeg4 & co.: a generous bit rate for the frame size
            stream.bit_rate = max(1_000_000, int(width * height * self.fps * 0.25))
        stream.thread_type = "AUTO"
        self._stream = stream

    def write(self, rgb: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        if self._closed:
            raise ValueError(f"VideoWriter({self.path}): write() after close()")
        arr = np.asarray(rgb)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise ValueError(f"VideoWriter.write expects an (H, W, 3) uint8 RGB array, got {arr.shape} {arr.dtype}")
        h, w = arr.shape[:2]
        if self._size is None:
            if h == 0 or w == 0:
                raise ValueError(f"VideoWriter.write: empty frame {arr.shape}")
            self._size = (h, w)
            self._add_stream(h, w)
        elif self._size != (h, w):
            first = f"{self._size[1]}x{self._size[0]}"
            raise ValueError(f"VideoWriter.write: frame is {w}x{h}, earlier frames were {first}")
        if h % 2 or w % 2:
            arr = np.pad(arr, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
        frame.pts = self.frames_written
        frame.time_base = Fraction(1) / self._stream.codec_context.framerate
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and move the finished file onto ``path``. Raises ValueError if nothing was written."""
        if self._closed:
            return
        self._closed = True
        if self.frames_written == 0:
            self._discard(_Aborted())
            raise ValueError(f"VideoWriter({self.path}): no frames were written; nothing was saved")
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        except BaseException as exc:
            self._discard(exc)
            raise
        self._atomic.__exit__(None, None, None)

    def abort(self) -> None:
        """Stop without saving: the temporary file is deleted and ``path`` is left as it was."""
        if self._closed:
            return
        self._closed = True
        self._discard(_Aborted())

    def _discard(self, exc: BaseException) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            try:
                container.close()
            except Exception:
                pass
        try:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
        except BaseException as raised:
            if raised is not exc:
                raise

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            try:
                self.abort()
            except Exception:
                pass
