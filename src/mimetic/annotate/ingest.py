"""Where a project's images come from: a folder, a zip (checked: no path traversal, no bombs), a video (frames
sampled at a rate). Each source yields :class:`Incoming` (a name and the encoded bytes or decoded pixels); the
store decodes, checks and keeps them."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from mimetic.errors import InputError
from mimetic.media.images import IMAGE_EXTENSIONS, is_image_path

#: Zip limits: entries, bytes once unpacked (all and each), and the largest compression ratio of one entry.
ZIP_MAX_ENTRIES = 20_000
ZIP_MAX_TOTAL = 4 << 30
ZIP_MAX_ENTRY = 64 << 20
ZIP_MAX_RATIO = 200
VIDEO_EXTENSIONS = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm"}


@dataclass
class Incoming:
    """One image on its way into a project: ``data`` (encoded bytes) or ``rgb`` (decoded frame)."""

    name: str
    data: bytes | None = None
    rgb: np.ndarray | None = None
    source: str = ""


@dataclass
class Refused:
    """An entry that was not imported, and why (for people)."""

    name: str
    reason: str


def zip_members(path: str | os.PathLike, refused: list[Refused] | None = None) -> Iterator[Incoming]:
    """The images of a zip. Raises :class:`InputError` for a zip that is not one, has a path-traversal or
    absolute entry, or would unpack to more than the limits (checked before anything is read, and again while
    reading, whatever the headers claim). Non-image entries go to ``refused``; folders and ``__MACOSX`` are
    skipped."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(path.name, f"not a readable zip ({e})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > ZIP_MAX_ENTRIES:
            raise InputError(path.name, f"{len(infos)} entries; at most {ZIP_MAX_ENTRIES} are accepted")
        total = 0
        for info in infos:
            name = info.filename
            p = PurePosixPath(name.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or (len(name) > 1 and name[1] == ":"):
                raise InputError(path.name, f"entry {name!r} points outside the archive (refused)")
            total += info.file_size
            if info.file_size > ZIP_MAX_ENTRY:
                raise InputError(path.name, f"entry {name!r} unpacks to {info.file_size} bytes (limit "
                                            f"{ZIP_MAX_ENTRY})")
            if info.compress_size and info.file_size / info.compress_size > ZIP_MAX_RATIO:
                raise InputError(path.name, f"entry {name!r} is compressed {info.file_size // info.compress_size}:1"
                                            " (a zip bomb?); refused")
        if total > ZIP_MAX_TOTAL:
            raise InputError(path.name, f"unpacks to {total} bytes (limit {ZIP_MAX_TOTAL})")
        for info in infos:
            p = PurePosixPath(info.filename.replace("\\", "/"))
            if info.is_dir() or "__MACOSX" in p.parts or p.name.startswith("."):
                continue
            if not is_image_path(p.name):
                if refused is not None:
                    accepted = ", ".join(sorted(IMAGE_EXTENSIONS))
                    refused.append(Refused(info.filename, f"not an image (accepted: {accepted})"))
                continue
            with zf.open(info) as fh:
                data = fh.read(ZIP_MAX_ENTRY + 1)
            if len(data) > ZIP_MAX_ENTRY:
                raise InputError(path.name, f"entry {info.filename!r} is larger than its header says (refused)")
            yield Incoming(p.name, data=data, source=f"{path.name}:{info.filename}")


def folder_members(path: str | os.PathLike, refused: list[Refused] | None = None) -> Iterator[Incoming]:
    """The images under a folder (recursively, sorted); other files go to ``refused``."""
    root = Path(path)
    for f in sorted(root.rglob("*")):
        if not f.is_file() or f.name.startswith("."):
            continue
        if not is_image_path(f):
            if refused is not None:
                refused.append(Refused(str(f.relative_to(root)), "not an image"))
            continue
        yield Incoming(f.name, data=f.read_bytes(), source=str(f.relative_to(root)))


def video_frames(path: str | os.PathLike, fps: float = 1.0, *, start: float = 0.0,
                 end: float | None = None) -> Iterator[Incoming]:
    """Frames of a video, at most ``fps`` per second, named ``<video>_<seconds>.jpg``."""
    from mimetic.media.video import iter_frames

    path = Path(path)
    for fr in iter_frames(path, fps=fps, start=start, end=end):
        yield Incoming(f"{path.stem}_{fr.timestamp:09.3f}.jpg", rgb=fr.image, source=f"{path.name}@{fr.timestamp:.3f}s")


def members(path: str | os.PathLike, refused: list[Refused] | None = None, *, fps: float = 1.0) -> Iterator[Incoming]:
    """A folder, a zip, a video or one image, by what ``path`` is."""
    p = Path(path)
    if p.is_dir():
        return folder_members(p, refused)
    if not p.is_file():
        raise InputError(str(p), "no such file or folder")
    if p.suffix.lower() == ".zip" or zipfile.is_zipfile(p) and not is_image_path(p):
        return zip_members(p, refused)
    if p.suffix.lower() in VIDEO_EXTENSIONS:
        return video_frames(p, fps)
    if is_image_path(p):
        return iter([Incoming(p.name, data=p.read_bytes(), source=p.name)])
    raise InputError(str(p), "expected a folder, a .zip, a video or an image")
