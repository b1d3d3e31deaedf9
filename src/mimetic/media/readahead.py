"""Run an iterator in a background thread a few items ahead of its consumer.

Video decoding (PyAV) and face analysis (MediaPipe, onnxruntime) both release the GIL, so on two cores the next
frame can be decoded and converted to RGB while the current one is analysed. The queue is bounded (``depth``
items), so memory stays constant in the video's length; an exception raised by the iterator is re-raised in the
consumer at the point where it happened, after the items produced before it; closing the consumer (``break``,
garbage collection) stops the thread and closes the source iterator.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_ITEM, _ERROR, _END = 0, 1, 2
#: How often (seconds) a producer blocked on a full queue checks whether the consumer went away.
_POLL = 0.05


def read_ahead(source: Iterable[T], depth: int = 2, *, name: str = "mimetic-read-ahead") -> Iterator[T]:
    """Yield the items of ``source`` in order, produced by a daemon thread at most ``depth`` items ahead."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    return _consume(iter(source), depth, name)


def _consume(it: Iterator[T], depth: int, name: str) -> Iterator[T]:
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: int, value) -> bool:
        while not stop.is_set():
            try:
                q.put((kind, value), timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in it:
                if not put(_ITEM, item):
                    return
            put(_END, None)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_ERROR, exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            kind, value = q.get()
            if kind == _END:
                return
            if kind == _ERROR:
                raise value
            yield value
    finally:
        stop.set()
        worker.join()
