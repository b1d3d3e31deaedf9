"""One data directory, one server: an exclusive lock on ``<data_dir>/mimetic.lock`` held while the app runs.

A second server on the same data directory would take the first one's running jobs for interrupted ones (its
start-up recovery fails them and deletes their outputs), so it is refused at start with :class:`DataDirBusy`,
which names the directory, the holder's process id and address, and what to do. The lock is an ``flock`` on the
open file: the kernel drops it when the holder exits, however it exits, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from mimetic.errors import MimeticError

LOCK_NAME = "mimetic.lock"


class DataDirBusy(MimeticError):
    """Another server holds the data directory."""


class DataDirLock:
    def __init__(self, data_dir: str | os.PathLike[str], url: str = ""):
        self.path = Path(data_dir).expanduser() / LOCK_NAME
        self.url = url
        self._fd: int | None = None

    def acquire(self) -> "DataDirLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder: list[str] = []
            with contextlib.suppress(OSError):
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
            os.close(fd)
            who = f"process {holder[0]}" + (f", {holder[1]}" if len(holder) > 1 else "") if holder else "a process"
            raise DataDirBusy(f"the data directory {self.path.parent} is in use by another Mimetic server ({who}): "
                              "one data directory, one server. Stop that server, or start this one with another "
                              "--data-dir (and its own database).") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {self.url}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "DataDirLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
