"""Receiving uploads as a stream, with the size limit enforced while the bytes arrive.

Two request shapes are accepted, both by :func:`receive_upload`:

- ``multipart/form-data`` with the media in a part named ``file`` (or the first part with a file name);
- a raw body (any other content type, e.g. ``image/jpeg``, ``video/mp4``, ``application/octet-stream``).

The content type and file name the client sends are never trusted: callers check the content by decoding it. The
client's file name is kept (cleaned) only to show it back; it is never used to build a path.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from fastapi import Request

from mimetic.web.errors import ApiError

#: Room for multipart boundaries and part headers on top of the file itself.
MULTIPART_OVERHEAD = 64 * 1024


@dataclass
class Upload:
    size: int
    filename: str | None = None  # cleaned, for display only
    data: bytes | None = None  # when received into memory
    path: Path | None = None  # when received into a file


def clean_filename(name: str | None) -> str | None:
    """A client's file name made safe to show: the last path component, printable, at most 120 characters."""
    if not name:
        return None
    name = unicodedata.normalize("NFC", str(name)).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>')
    name = re.sub(r"\s+", " ", name).strip(" .")
    return name[:120] or None


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


class _Sink:
    """Where the file's bytes go: memory or a file; counts them and stops at the limit."""

    def __init__(self, limit: int, path: Path | None, what: str):
        self.limit, self.what, self.size = limit, what, 0
        self.path = path
        self._fh: IO[bytes] | None = open(path, "wb") if path is not None else None
        self._buf = bytearray() if path is None else None

    def write(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise ApiError(413, f"{self.what} is larger than the {_mb(self.limit)} limit")
        if self._fh is not None:
            self._fh.write(data)
        else:
            self._buf += data

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def discard(self) -> None:
        self.close()
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    @property
    def data(self) -> bytes | None:
        return bytes(self._buf) if self._buf is not None else None


class _Form:
    """Streaming multipart parser state: picks the file part, ignores small other fields."""

    def __init__(self, boundary: bytes, sink: _Sink):
        from python_multipart.multipart import MultipartParser, parse_options_header

        self._parse_options = parse_options_header
        self.sink = sink
        self.filename: str | None = None
        self.found = False
        self._in_file = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        })

    def _part_begin(self) -> None:
        self._headers = {}
        self._in_file = False

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, opts = self._parse_options(self._headers.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        if not self.found and (name == "file" or filename is not None):
            self._in_file = True
            self.found = True
            self.filename = clean_filename(filename.decode("utf-8", "replace")) if filename else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.sink.write(memoryview(data)[start:end])

    def _part_end(self) -> None:
        self._in_file = False

    def write(self, chunk: bytes) -> None:
        self.parser.write(chunk)

    def finish(self) -> None:
        self.parser.finalize()


async def receive_upload(request: Request, *, limit: int, timeout: float, what: str = "upload",
                         path: Path | None = None) -> Upload:
    """Read the request body's media into memory (``path=None``) or into ``path``; see the module docstring.

    Raises ApiError 413 as soon as more than ``limit`` bytes have arrived (or at once, when Content-Length already
    says so), 408 when the upload takes longer than ``timeout`` seconds, 422 for an empty or malformed body.
    A partial file is removed on any error.
    """
    ctype = request.headers.get("content-type", "")
    multipart = ctype.lower().startswith("multipart/form-data")
    declared = request.headers.get("content-length")
    allowance = limit + (MULTIPART_OVERHEAD if multipart else 0)
    if declared is not None and declared.isdigit() and int(declared) > allowance:
        raise ApiError(413, f"{what} is larger than the {_mb(limit)} limit ({_mb(int(declared))} sent)")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    sink = _Sink(limit, path, what)
    form = None
    try:
        if multipart:
            from python_multipart.multipart import parse_options_header

            _, opts = parse_options_header(ctype)
            boundary = opts.get(b"boundary")
            if not boundary:
                raise ApiError(422, "multipart/form-data without a boundary")
            form = _Form(boundary, sink)
        total = 0
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                async for chunk in request.stream():
                    if not chunk:
                        continue
                    total += len(chunk)
                    if total > allowance:
                        raise ApiError(413, f"{what} is larger than the {_mb(limit)} limit")
                    if form is not None:
                        form.write(chunk)
                    else:
                        sink.write(chunk)
                if form is not None:
                    form.finish()
        except TimeoutError:
            raise ApiError(408, f"{what} took longer than {timeout:g} s to arrive "
                                f"({_mb(total)} received in {time.monotonic() - started:.0f} s)") from None
        except ApiError:
            raise
        except Exception as exc:  # a malformed multipart body
            if type(exc).__module__.startswith("python_multipart"):
                raise ApiError(422, f"malformed multipart/form-data body: {exc}") from None
            raise
        if form is not None and not form.found:
            raise ApiError(422, "no file in the form: send the media in a part named 'file'")
        if sink.size == 0:
            raise ApiError(422, f"{what} is empty (0 bytes)")
        sink.close()
        return Upload(size=sink.size, filename=form.filename if form else clean_filename(
            request.headers.get("x-filename")), data=sink.data, path=path)
    except BaseException:
        sink.discard()
        raise
