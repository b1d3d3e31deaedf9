"""Errors a user can act on. Every message names the file and the cause in one line."""

from __future__ import annotations

from pathlib import Path


class MimeticError(Exception):
    """Base class for errors Mimetic reports to users."""


class InputError(MimeticError):
    """An input (image, video, folder entry) could not be used."""

    def __init__(self, source: str | Path, cause: str):
        self.source = str(source)
        self.cause = cause
        super().__init__(f"{self.source}: {cause}")


class ModelNotFoundError(MimeticError):
    """A model file could not be located."""


class Cancelled(MimeticError):
    """A long analysis was stopped by its caller (``cancel`` callback)."""


def write_failure(exc: OSError, target: Path | str | None = None) -> str:
    """The cause for an output that could not be written: which file (``target`` when the error names none), and
    why (a full disk said so)."""
    import errno

    name = exc.filename or target
    where = f"cannot write {name}" if name else "cannot write an output"
    why = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        why += " (the disk is full)"
    elif exc.errno == errno.EFBIG:
        why += " (over the file size limit)"
    elif exc.errno == errno.ENAMETOOLONG:
        why += " (the file name is too long)"
    return f"{where}: {why}"
