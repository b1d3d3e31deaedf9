"""Worker threads that each own one :class:`~mimetic.analyzer.Analyzer` (an Analyzer is not thread-safe).

:class:`AnalyzerPool` runs ``fn(analyzer, *args)`` on one of its threads and gives the calling coroutine the result,
with a time limit and a bound on admitted requests (beyond it: 503). A request takes its place
(:meth:`AnalyzerPool.admit`) before it reads its upload, so uploads in progress count too. The analyzers load their models once per
thread and are closed when the pool shuts down.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from mimetic.web.errors import ApiError

T = TypeVar("T")


class AnalyzerPool:
    def __init__(self, workers: int, *, max_pending: int, make_analyzer: Callable[[], Any], name: str = "analyzer"):
        self.workers = max(1, int(workers))
        self.max_pending = max(self.workers, int(max_pending))
        self._make = make_analyzer
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix=f"mimetic-{name}")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._analyzers: list[Any] = []
        self._pending = 0
        self._closed = False

    @property
    def pending(self) -> int:
        return self._pending

    def _analyzer(self) -> Any:
        a = getattr(self._local, "analyzer", None)
        if a is None:
            a = self._local.analyzer = self._make()
            with self._lock:
                self._analyzers.append(a)
        return a

    def _call(self, fn: Callable[..., T], args: tuple, ticket: "Ticket") -> T:
        try:
            return fn(self._analyzer(), *args)
        finally:
            ticket.release()

    def admit(self) -> "Ticket":
        """A place among the ``max_pending`` requests, taken before a request's body is read (so a request the
        server cannot take gets 503 before it sends its upload); given back when the work it is handed to ends,
        or by :meth:`Ticket.release` when it is never handed over. Raises ApiError 503 when none is free."""
        with self._lock:
            if self._closed:
                raise ApiError(503, "the server is shutting down")
            if self._pending >= self.max_pending:
                raise ApiError(503, f"the server is busy ({self._pending} analyses waiting); try again shortly",
                               headers={"Retry-After": "2"})
            self._pending += 1
        return Ticket(self)

    def submit(self, fn: Callable[..., T], *args: Any, ticket: "Ticket | None" = None):
        """Queue ``fn(analyzer, *args)``; a concurrent.futures.Future. Without a ``ticket`` one is taken here
        (ApiError 503 when too many wait); with one, the work owns it from now on."""
        ticket = ticket or self.admit()
        with self._lock:
            if self._closed:
                ticket.release()
                raise ApiError(503, "the server is shutting down")
        ticket.handed = True
        try:
            return self._executor.submit(self._call, fn, args, ticket)
        except BaseException:
            ticket.release()
            raise

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float, ticket: "Ticket | None" = None) -> T:
        """Run ``fn(analyzer, *args)`` on a worker; ApiError 504 after ``timeout`` seconds (the worker finishes the
        call in the background and its result is dropped)."""
        future = asyncio.wrap_future(self.submit(fn, *args, ticket=ticket))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise ApiError(504, f"the analysis took longer than the {timeout:g} s time limit") from None

    def warm(self, fn: Callable[[Any], None]) -> None:
        """Load every worker's models in the background: one ``fn(analyzer)`` per thread."""
        barrier = threading.Barrier(self.workers)

        def once(analyzer: Any) -> None:
            try:
                barrier.wait(timeout=30)  # make sure each thread takes exactly one of these calls
            except threading.BrokenBarrierError:
                pass
            fn(analyzer)

        for _ in range(self.workers):
            try:
                self.submit(once)
            except ApiError:
                break

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            analyzers, self._analyzers = self._analyzers, []
        for a in analyzers:
            try:
                a.close()
            except Exception:  # pragma: no cover - closing is best effort
                pass


class Ticket:
    """One admitted request's place in an :class:`AnalyzerPool` (:meth:`AnalyzerPool.admit`)."""

    def __init__(self, pool: AnalyzerPool):
        self._pool = pool
        self._released = False
        #: True once the place belongs to queued work (which gives it back when it ends)
        self.handed = False

    def release(self) -> None:
        """Give the place back (once; later calls do nothing)."""
        with self._pool._lock:
            if not self._released:
                self._released = True
                self._pool._pending -= 1
