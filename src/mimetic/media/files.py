"""The checks every input file gets before it is decoded (one-line errors naming the file), and file names that
fit the file system's limit."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from mimetic.errors import InputError

#: The longest file name (one path component), in bytes, on the file systems Mimetic writes to (ext4, APFS, NTFS
#: and tmpfs all allow 255).
NAME_MAX = 255

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_input_file(path: str | os.PathLike[str], what: str, label: str | None = None) -> tuple[Path, str]:
    """``(path, label)`` for an existing, non-empty regular file; ``InputError`` otherwise. ``what`` names the
    expected kind in the directory message ("an image file", "a video file").

    A FIFO, a device (``/dev/zero``) or a socket is refused before it is opened ("not a regular file: ..."): reading
    one could block forever or never end."""
    p = Path(path)
    label = label or str(p)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(label, "file not found") from None
    except OSError as exc:
        raise InputError(label, f"cannot access file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(label, f"is a directory, not {what}")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(label, not_regular(st.st_mode))
    if st.st_size == 0:
        raise InputError(label, "empty file (0 bytes)")
    return p, label


def not_regular(mode: int) -> str:
    """The cause for something on disk that is neither a regular file nor a folder: "not a regular file: <kind>"."""
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"not a regular file: {kind}"


def fit_name(name: str, limit: int = NAME_MAX) -> str:
    """``name`` itself when its UTF-8 encoding fits in ``limit`` bytes; else its start (cut on a character
    boundary) and ``~`` and 8 hex digits of its SHA-256, ``limit`` bytes at most. Distinct long names stay distinct
    (the hash is of the whole name), and the same name always gives the same short one."""
    data = name.encode("utf-8", "surrogateescape")
    if len(data) <= limit:
        return name
    tag = "~" + hashlib.sha256(data).hexdigest()[:8]
    head = data[: max(0, limit - len(tag))].decode("utf-8", "ignore")  # "ignore" drops a cut character
    return head + tag
