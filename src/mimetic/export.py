"""Results as JSON: one document per image, one per video (all frames), or JSON Lines streamed frame by frame.

Every file is written atomically (``mimetic.media.atomic``): a reader sees the old file or the complete new one,
and a failure leaves no partial output. The documents follow ``mimetic/schema/result.schema.json`` (generated
from the result types, :mod:`mimetic.schema`).

:func:`dumps` is the one JSON serialiser of Mimetic: these files, the CLI's JSON output, the web API's responses
and the WebSocket messages all go through it. NaN and infinities are written as ``null`` (JSON has no NaN; a
reader gets "no value" instead of invalid JSON or an error halfway through a video). numpy scalars and arrays,
tuples, sets, dates and the result dataclasses (``mimetic.types``) become plain JSON values.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import pydantic_core

from mimetic.media.atomic import atomic_path, atomic_write_text
from mimetic.types import SCHEMA_VERSION, FrameResult

__all__ = ["JsonLinesWriter", "dumps", "video_document", "write_json"]


def _default(obj: Any) -> Any:
    """Fallback for numpy values (``np.float64`` is a ``float`` already and never gets here)."""
    if isinstance(obj, np.floating):
        # str() gives the shortest decimal that round-trips in the value's own precision (0.3, not 0.30000001).
        return float(str(obj)) if obj.dtype.itemsize < 8 else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(doc: Any, *, indent: int | None = None) -> str:
    """``doc`` as JSON text: compact (or indented by ``indent``), UTF-8 text kept as is, NaN/inf as ``null``,
    numpy values and dataclasses converted. Raises ``TypeError`` for a value JSON cannot hold."""
    try:
        raw = pydantic_core.to_json(doc, indent=indent, inf_nan_mode="null", fallback=_default)
    except pydantic_core.PydanticSerializationError as e:
        raise TypeError(str(e)) from None
    return raw.decode("utf-8")


def video_document(results: Sequence[FrameResult], *, landmarks: bool = True) -> dict[str, Any]:
    """``{"schema_version", "source", "width", "height", "frames": [doc, ...]}`` for a video's frame results."""
    if not results:
        raise ValueError("no frame results to write: a video document needs at least one frame")
    first = results[0]
    return {
        "schema_version": SCHEMA_VERSION,
        "source": first.source,
        "width": first.width,
        "height": first.height,
        "frames": [r.to_dict(landmarks=landmarks) for r in results],
    }


def write_json(
    result: FrameResult | Sequence[FrameResult],
    path: str | os.PathLike[str],
    *,
    landmarks: bool = True,
    indent: int | None = None,
) -> Path:
    """Write one result as one JSON document, or a video's results as one document with a ``frames`` list.

    ``landmarks=False`` leaves out the landmark arrays and the transform (a much smaller file). For long videos
    prefer :class:`JsonLinesWriter`, which doesn't hold every frame in memory. Returns the path written.
    """
    if isinstance(result, FrameResult):
        doc = result.to_dict(landmarks=landmarks)
    else:
        doc = video_document(list(result), landmarks=landmarks)
    text = dumps(doc, indent=indent)  # serialise first: a failure here leaves nothing on disk
    atomic_write_text(path, text + "\n")
    return Path(path)


class JsonLinesWriter:
    """Stream results to a JSON Lines file, one result document per line, written atomically on close.

    ::

        with JsonLinesWriter("clip.jsonl") as out:
            for result in analyzer.video("clip.mp4"):
                out.write(result)

    Lines go to a temporary file beside ``path``; leaving the ``with`` block normally (or :meth:`close`) moves
    it onto ``path``, an exception (or :meth:`abort`) deletes it and leaves ``path`` untouched. Each line is a
    complete document (schema ``result``), so a consumer can read the file frame by frame.
    """

    def __init__(self, path: str | os.PathLike[str], *, landmarks: bool = True) -> None:
        self.path = Path(path)
        self.landmarks = landmarks
        self.count = 0
        self._fh: IO[str] | None = None
        self._cm = atomic_path(self.path)
        tmp = self._cm.__enter__()
        try:
            self._fh = open(tmp, "w", encoding="utf-8", newline="\n")
        except BaseException as e:
            self._cm.__exit__(type(e), e, e.__traceback__)
            raise

    def write(self, result: FrameResult) -> None:
        """Append one result as one line."""
        if self._fh is None:
            raise ValueError(f"{self.path}: writer is closed")
        line = dumps(result.to_dict(landmarks=self.landmarks))  # may raise before anything is written
        self._fh.write(line)
        self._fh.write("\n")
        self.count += 1

    def close(self) -> None:
        """Finish: flush and move the file into place. Safe to call twice."""
        self._finish(None, None, None)

    def abort(self) -> None:
        """Discard everything written; ``path`` is left as it was."""
        err = RuntimeError("aborted")
        with contextlib.suppress(RuntimeError):
            self._finish(RuntimeError, err, None)

    def _finish(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            if exc_type is None:
                fh.flush()
                os.fsync(fh.fileno())
            fh.close()
        except BaseException as e:
            fh.close()
            exc_type, exc, tb = type(e), e, e.__traceback__
            self._cm.__exit__(exc_type, exc, tb)
            raise
        if exc_type is None:
            self._cm.__exit__(None, None, None)
        else:
            # The context manager re-raises the exception it is given after removing the temporary file.
            try:
                self._cm.__exit__(exc_type, exc, tb)
            except BaseException as e:
                if e is not exc:
                    raise

    def __enter__(self) -> JsonLinesWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish(exc_type, exc, tb)
