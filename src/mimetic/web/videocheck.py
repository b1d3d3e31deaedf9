"""Checking an uploaded video by its content before a job is queued: is it a video at all (415), is it damaged
(422), is it too long (413)? The file name and the content type the client sent play no part."""

from __future__ import annotations

from pathlib import Path

from mimetic.errors import InputError
from mimetic.media.container import damage, iso_truncation, sniff_container  # noqa: F401 (re-exported)
from mimetic.media.video import VideoInfo
from mimetic.web.errors import ApiError

#: PyAV/FFmpeg demuxers that read still images: such an upload belongs to the photo endpoint.
_IMAGE_DEMUXERS = ("image2", "_pipe", "webp", "apng")


def check_video(path: Path, *, label: str, max_seconds: float) -> VideoInfo:
    """Probe ``path`` and decode its first frame. Raises ApiError 415/422/413 with a clear message."""
    import av

    from mimetic.media.video import iter_frames, probe_video

    with open(path, "rb") as fh:
        head = fh.read(512)
    container = sniff_container(head)
    problem = damage(path)  # the same cause as the CLI's (mimetic.media.container)
    if problem:
        raise ApiError(422, f"{label}: {problem}")
    try:
        with av.open(str(path), mode="r", metadata_errors="replace") as c:
            fmt = c.format.name or ""
    except Exception:
        fmt = ""
    if any(k in fmt for k in _IMAGE_DEMUXERS):
        raise ApiError(415, f"{label}: this is a still image, not a video; send it to POST /api/v1/images")
    try:
        info = probe_video(path)
        frames = iter_frames(path)
        try:
            first = next(frames, None)
        finally:
            frames.close()
    except InputError as exc:
        status = 422 if container is not None else 415
        what = "truncated or corrupt video" if status == 422 else "not a video this server can read"
        raise ApiError(status, f"{label}: {what}: {exc.cause}") from None
    if first is None:
        raise ApiError(422, f"{label}: video has no frames")
    if info.duration and info.duration > max_seconds:
        raise ApiError(413, f"{label}: video is {info.duration:.0f} s long, longer than the {max_seconds:g} s limit")
    return info
