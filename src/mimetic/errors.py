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
