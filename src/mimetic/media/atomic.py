"""Atomic file output: write to a temporary file beside the target, then ``os.replace`` it into place.

A reader never sees a half-written file, and a failure (exception, Ctrl-C) leaves no partial output behind:
either the old file (if any) or the complete new one is at ``path``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def _temp_sibling(path: Path) -> Path:
    """Create (exclusively) and return an empty hidden temp file beside ``path`` with the same suffix.

    The file is created with mode 0o666 filtered by the process umask, like an ordinary new file, so the final
    output gets normal permissions (``tempfile.mkstemp`` would make it 0o600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.partial{path.suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{path}: could not create a temporary file beside it")


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path (same directory, same suffix) to write ``path``'s content to.

    When the block exits normally the temporary file is moved onto ``path`` with ``os.replace``; when it
    raises (``BaseException`` included) the temporary file is deleted and ``path`` is left untouched.
    Parent directories are created. The temporary file exists (empty) when the block starts; writers may
    overwrite or truncate it.
    """
    target = Path(path)
    tmp = _temp_sibling(target)
    try:
        yield tmp
    except BaseException:
        _remove_quietly(tmp)
        raise
    try:
        os.replace(tmp, target)
    except BaseException:
        _remove_quietly(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (flushed and fsynced before the rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically, encoded with ``encoding`` (no newline translation)."""
    atomic_write_bytes(path, text.encode(encoding))
