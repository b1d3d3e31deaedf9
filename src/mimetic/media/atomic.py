"""Atomic file output: write to a temporary file beside the target, then ``os.replace`` it into place.

A reader never sees a half-written file, and a failure (exception, Ctrl-C) leaves no partial output behind:
either the old file (if any) or the complete new one is at ``path``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from mimetic.media.files import NAME_MAX, fit_name


def _temp_sibling(path: Path) -> Path:
    """Create (exclusively) and return an empty hidden temp file beside ``path`` with the same suffix.

    The file is created with mode 0o666 filtered by the process umask, like an ordinary new file, so the final
    output gets normal permissions (``tempfile.mkstemp`` would make it 0o600). Its name never exceeds
    :data:`~mimetic.media.files.NAME_MAX` bytes: a long stem is shortened with a hash (``fit_name``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix
    room = NAME_MAX - len(f"..{'0' * 8}.partial{suffix}".encode("utf-8", "surrogateescape"))
    stem = fit_name(path.stem, max(room, 16))
    for _ in range(100):
        tmp = path.with_name(f".{stem}.{secrets.token_hex(4)}.partial{suffix}")
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
    overwrite or truncate it. An ``OSError`` from the block (a full disk) names ``path`` as its ``filename``.
    """
    target = Path(path)
    tmp = _temp_sibling(target)
    try:
        yield tmp
    except BaseException as exc:
        _remove_quietly(tmp)
        if isinstance(exc, OSError) and exc.errno and exc.filename in (None, str(tmp), tmp):
            # a full disk names the output, not its temporary file
            raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(target)) from exc
        raise
    try:
        os.replace(tmp, target)
    except BaseException:
        _remove_quietly(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (flushed and fsynced before the rename).

    A full disk or a file-size limit raises ``OSError`` (ENOSPC, EFBIG) and publishes nothing: Python's file
    object retries short writes until the error shows, and the size on disk is checked before the rename.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
        size = os.fstat(fh.fileno()).st_size
        if size != len(data):  # never expected; a last guard against a writer that lost bytes
            raise OSError(errno.EIO, f"short write: {size} of {len(data)} bytes reached the disk", str(path))


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically, encoded with ``encoding`` (no newline translation)."""
    atomic_write_bytes(path, text.encode(encoding))
