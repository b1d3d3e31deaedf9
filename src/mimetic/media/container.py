"""What a video file's own bytes say: the container its first bytes announce, and whether an MP4/MOV is cut off.

:func:`damage` is the one cause for a damaged video, given by the CLI (:mod:`mimetic.media.video`) and the web's
upload check (:mod:`mimetic.web.videocheck`) alike.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

#: The start of the cause for a damaged video (followed by what is wrong).
DAMAGED = "truncated or corrupt video"

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


def iso_truncation(path: str | os.PathLike[str]) -> str | None:
    """For MP4/MOV files: a message when a top-level box runs past the end of the file (a cut-off file)."""
    path = Path(path)
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
                        f"{size:,}: the file is truncated")
            pos += box
    return None


def damage(path: str | os.PathLike[str]) -> str | None:
    """``"truncated or corrupt video: <what>"`` when the file's structure shows it is cut off, else None.

    Reads a few bytes per top-level box (never the whole file); a file that cannot be read gives None (its
    reader reports that)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
        problem = iso_truncation(path) if sniff_container(head) == "mp4" else None
    except OSError:
        return None
    return f"{DAMAGED}: {problem}" if problem else None
