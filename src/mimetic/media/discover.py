"""Turning command-line inputs (files, folders, glob patterns) into a list of media files."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from mimetic.errors import InputError
from mimetic.media.files import not_regular
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


class _Walk:
    """Folder walking that follows folder links, each real folder at most once on a path (a link back to a folder
    it is inside of is a loop: noted, not followed). Hidden files and folders (name starting with ".") are
    skipped, as the shell and ``glob`` do. Used for folder inputs and for ``**`` in patterns alike."""

    def __init__(self, errors: list[InputError], notes: list[str]):
        self.errors, self.notes = errors, notes

    @staticmethod
    def _identity(path: str) -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def entries(self, folder: str, hidden: bool = False) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as it:
                return sorted((e for e in it if hidden or not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as exc:
            self.errors.append(InputError(folder, f"cannot read folder ({exc.strerror or exc})"))
            return []

    def subfolders(self, folder: str, above: frozenset[tuple[int, int]]) -> Iterator[tuple[str, frozenset]]:
        """``(path, ids of the folders it is inside of)`` for each folder directly in ``folder`` (links
        followed); a link to a folder on the way down is a loop and is only noted."""
        for e in self.entries(folder):
            try:
                is_dir = e.is_dir()  # follows links
            except OSError:
                continue
            if not is_dir:
                continue
            ident = self._identity(e.path)
            if ident is None:
                continue
            if ident in above:
                self.notes.append(f"{e.path}: a link back to {os.path.realpath(e.path)}, a folder it is inside "
                                  "of (a loop): not followed")
                continue
            yield e.path, above | {ident}

    def files(self, folder: str, recursive: bool, above: frozenset | None = None) -> Iterator[str]:
        """Every non-folder entry under ``folder`` (recursively: in its subfolders, links followed)."""
        if above is None:
            ident = self._identity(folder)
            above = frozenset([ident]) if ident else frozenset()
        for e in self.entries(folder):
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                yield e.path
        if recursive:
            for sub, inside in list(self.subfolders(folder, above)):
                yield from self.files(sub, True, inside)

    def match(self, base: str, parts: list[str], above: frozenset) -> Iterator[str]:
        """Paths under ``base`` matching the pattern components ``parts`` (``glob`` semantics, ``**`` for any
        number of folders, including none)."""
        if not parts:
            yield base
            return
        part, rest = parts[0], parts[1:]
        if part == "**":
            if not rest:  # a trailing ** matches every folder below (their files are walked by the caller)
                yield base
                yield from self._all_folders(base, above)
                return
            yield from self.match(base, rest, above)
            for sub, inside in self.subfolders(base, above):
                yield from self.match(sub, parts, inside)
        elif _GLOB_CHARS.search(part):
            for e in self.entries(base or ".", hidden=part.startswith(".")):  # ".*" matches hidden names
                if not fnmatch.fnmatch(e.name, part):
                    continue
                if not rest:
                    yield os.path.join(base, e.name)
                    continue
                try:
                    if not e.is_dir():
                        continue
                except OSError:
                    continue
                ident = self._identity(e.path)
                if ident is not None:
                    yield from self.match(os.path.join(base, e.name), rest, above | {ident})
        else:
            path = os.path.join(base, part) if base else part
            if not rest:
                if os.path.lexists(path):
                    yield path
            elif os.path.isdir(path):
                ident = self._identity(path)
                yield from self.match(path, rest, above | {ident} if ident else above)

    def _all_folders(self, base: str, above: frozenset) -> Iterator[str]:
        for sub, inside in self.subfolders(base, above):
            yield sub
            yield from self._all_folders(sub, inside)

    def glob(self, pattern: str) -> list[str]:
        """Like ``glob.glob(pattern, recursive=True)``, but a folder link back into the walk is not followed."""
        head, parts = _split(pattern)
        if head and not os.path.isdir(head):
            return []
        ident = self._identity(head or ".")
        return list(dict.fromkeys(self.match(head, parts, frozenset([ident]) if ident else frozenset())))


def _split(pattern: str) -> tuple[str, list[str]]:
    """(the pattern's leading folder without wildcards, the remaining components)."""
    drive, rest = os.path.splitdrive(pattern)
    parts = [p for p in re.split(r"[\\/]" if os.sep == "\\" else "/", rest) if p]
    head = drive + (os.sep if rest[:1] in ("/", os.sep) else "")
    while parts and not _GLOB_CHARS.search(parts[0]) and len(parts) > 1:
        head = os.path.join(head, parts.pop(0)) if head else parts.pop(0)
    return head, parts


def _walk_folder(folder: Path, recursive: bool, errors: list[InputError], notes: list[str]) -> list[Path]:
    """Media files under ``folder`` (folder links followed, loops noted), naturally sorted."""
    walk = _Walk(errors, notes)
    return sorted((Path(f) for f in walk.files(str(folder), recursive) if _is_media(Path(f))), key=_natural_key)


def expand_inputs(
    items: Sequence[str | os.PathLike[str]], *, recursive: bool = True, notes: list[str] | None = None
) -> tuple[list[Path], list[InputError]]:
    """Expand files, folders and glob patterns into media files, in first-seen order, each real file once.

    - a file is kept whatever its extension (problems show up when it is read);
    - a folder is walked (recursively unless ``recursive=False``) for image/video files, naturally sorted,
      skipping hidden files and folders;
    - a glob pattern (``*``, ``?``, ``[...]``, ``**``) keeps the image/video files it matches and walks the
      folders it matches, in natural order.

    Folder links are followed, but never back into a folder the walk is inside of (a loop): each loop is
    described in ``notes`` (when given) and skipped. A file reached twice (by two links, or given twice) is kept
    once: duplicates are found by their real path. Inputs that give nothing are reported as :class:`InputError`
    in the second list, never raised; so is something that is neither a regular file nor a folder (a FIFO, a
    device), which is never opened.
    """
    paths: list[Path] = []
    errors: list[InputError] = []
    notes = notes if notes is not None else []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.normcase(os.path.realpath(path))
        if key not in seen:
            seen.add(key)
            paths.append(path)

    for item in items:
        text = os.fspath(item)
        path = Path(text)
        try:
            mode = path.stat().st_mode
        except OSError:
            mode = None
        if mode is not None and stat.S_ISREG(mode):
            add(path)
        elif mode is not None and stat.S_ISDIR(mode):
            found = _walk_folder(path, recursive, errors, notes)
            if not found:
                errors.append(InputError(text, "folder contains no image or video files"))
            for p in found:
                add(p)
        elif mode is not None:
            errors.append(InputError(text, not_regular(mode)))
        elif _GLOB_CHARS.search(text):
            matches = sorted((Path(m) for m in _Walk(errors, notes).glob(text)), key=_natural_key)
            if not matches:
                errors.append(InputError(text, "no files match this pattern"))
                continue
            found = []
            walked: set[Path] = set()
            for m in matches:
                if m.is_dir():
                    if recursive and any(parent in walked for parent in m.parents):
                        continue  # inside a folder already walked: its files are found already
                    walked.add(m)
                    found.extend(_walk_folder(m, recursive, errors, notes))
                elif _is_media(m):  # a FIFO or device named like a photo is reported when it is read
                    found.append(m)
            if not found:
                errors.append(InputError(text, "no image or video files match this pattern"))
            for p in found:
                add(p)
        else:
            errors.append(InputError(text, "file not found"))
    notes[:] = dict.fromkeys(notes)  # a loop met by two walks is noted once
    return paths, errors
