"""Turning command-line inputs (files, folders, glob patterns) into a list of media files."""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from mimetic.errors import InputError
from mimetic.media.images import IMAGE_EXTENSIONS
from mimetic.media.video import VIDEO_EXTENSIONS

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
_GLOB_CHARS = re.compile(r"[*?\[]")
_DIGITS = re.compile(r"(\d+)")


def kind_of(path: str | os.PathLike[str]) -> Literal["image", "video", "unknown"]:
    """``"image"``, ``"video"`` or ``"unknown"``, from the extension (case-insensitive)."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return "unknown"


def _natural_key(path: Path) -> tuple[tuple[tuple[int | str, ...], ...], str]:
    """Sort key: "img2" before "img10", case-insensitive, per path component; the exact text breaks ties."""
    parts = tuple(
        tuple(int(tok) if i % 2 else tok for i, tok in enumerate(_DIGITS.split(part.casefold())))
        for part in path.parts
    )
    return parts, str(path)


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_EXTENSIONS


def _walk_folder(folder: Path, recursive: bool, errors: list[InputError]) -> list[Path]:
    """Media files under ``folder``; hidden files and folders (name starting with ".") are skipped."""
    found: list[Path] = []

    def onerror(exc: OSError) -> None:
        errors.append(InputError(exc.filename or folder, f"cannot read folder ({exc.strerror or exc})"))

    for root, dirs, files in os.walk(folder, onerror=onerror):
        dirs[:] = [] if not recursive else [d for d in dirs if not d.startswith(".")]
        base = Path(root)
        found.extend(base / f for f in files if not f.startswith(".") and _is_media(base / f))
    return sorted(found, key=_natural_key)


def expand_inputs(
    items: Sequence[str | os.PathLike[str]], *, recursive: bool = True
) -> tuple[list[Path], list[InputError]]:
    """Expand files, folders and glob patterns into media files, in first-seen order without duplicates.

    - a file is kept whatever its extension (problems show up when it is read);
    - a folder is walked (recursively unless ``recursive=False``) for image/video files, naturally sorted,
      skipping hidden files and folders;
    - a glob pattern (``*``, ``?``, ``[...]``, ``**``) keeps the image/video files it matches and walks the
      folders it matches, in natural order.

    Inputs that give nothing are reported as :class:`InputError` in the second list, never raised.
    """
    paths: list[Path] = []
    errors: list[InputError] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            paths.append(path)

    for item in items:
        text = os.fspath(item)
        path = Path(text)
        if path.is_file():
            add(path)
        elif path.is_dir():
            found = _walk_folder(path, recursive, errors)
            if not found:
                errors.append(InputError(text, "folder contains no image or video files"))
            for p in found:
                add(p)
        elif path.exists():
            errors.append(InputError(text, "not a regular file or folder"))
        elif _GLOB_CHARS.search(text):
            matches = sorted((Path(m) for m in glob.glob(text, recursive=True)), key=_natural_key)
            if not matches:
                errors.append(InputError(text, "no files match this pattern"))
                continue
            found = []
            for m in matches:
                if m.is_dir():
                    found.extend(_walk_folder(m, recursive, errors))
                elif m.is_file() and _is_media(m):
                    found.append(m)
            if not found:
                errors.append(InputError(text, "no image or video files match this pattern"))
            for p in found:
                add(p)
        else:
            errors.append(InputError(text, "file not found"))
    return paths, errors
