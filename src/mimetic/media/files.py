"""The checks every input file gets before it is decoded, with one-line errors naming the file."""

from __future__ import annotations

import os
from pathlib import Path

from mimetic.errors import InputError


def check_input_file(path: str | os.PathLike[str], what: str, label: str | None = None) -> tuple[Path, str]:
    """``(path, label)`` for an existing, non-empty regular file; ``InputError`` otherwise. ``what`` names the
    expected kind in the directory message ("an image file", "a video file")."""
    p = Path(path)
    label = label or str(p)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(label, "file not found") from None
    except OSError as exc:
        raise InputError(label, f"cannot access file ({exc.strerror or exc})") from None
    if p.is_dir():
        raise InputError(label, f"is a directory, not {what}")
    if st.st_size == 0:
        raise InputError(label, "empty file (0 bytes)")
    return p, label
