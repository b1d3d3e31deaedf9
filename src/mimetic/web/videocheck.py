"""Checking an uploaded video by its content before a job is queued: is it a video at all (415), is it damaged
(422), is it too long (413)? The file name and the content type the client sent play no part."""

from __future__ import annotations

import struct
from pathlib import Path

from mimetic.errors import InputError
from mimetic.media.video import VideoInfo
from mimetic.web.errors import ApiError

#: PyAV/FFmpeg demuxers that read still images: such an upload belongs to the photo endpoint.
_IMAGE_DEMUXERS = ("image2", "_pipe", "webp", "apng")
_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid", b"moof", b"styp"}


def sniff_container(head: bytes) -> str | None:
    """The container a file's first bytes announce ("mp4", "matroska", ...), or None."""
    if len(head) >= 8 and head[4:8] in _ISO_BOXES:
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"AVIX"):
        return "avi"
    if head.startswith(b"\x00\x00\x01\xba") or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47):
        return "mpeg"
    if head.startswith(b"FLV"):
        return "flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    return None


def iso_truncation(path: Path) -> str | None:
    """For MP4/MOV files: a message when a top-level box runs past the end of the file (a cut-off upload)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        pos = 0
        while pos + 8 <= size:
            fh.seek(pos)
            head = fh.read(16)
            box, kind = struct.unpack(">I4s", head[:8])
            if box == 1:
                if len(head) < 16:
                    return "the file ends inside a box header"
                box = struct.unpack(">Q", head[8:16])[0]
            elif box == 0:  # to the end of the file
                return None
            if box < 8:
                return f"invalid box size {box} at byte {pos}"
            if pos + box > size:
                return (f"the '{kind.decode('latin-1', 'replace')}' box needs {pos + box:,} bytes but the file has "
                        f"{size:,}: the upload is truncated")
            pos += box
    return None


def check_video(path: Path, *, label: str, max_seconds: float) -> VideoInfo:
    """Probe ``path`` and decode its first frame. Raises ApiError 415/422/413 with a clear message."""
    import av

    from mimetic.media.video import iter_frames, probe_video

    with open(path, "rb") as fh:
        head = fh.read(512)
    container = sniff_container(head)
    if container == "mp4":
        problem = iso_truncation(path)
        if problem:
            raise ApiError(422, f"{label}: truncated or corrupt video: {problem}")
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
