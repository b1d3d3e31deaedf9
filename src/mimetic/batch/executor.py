"""Where the tasks run: the command's own process, a local process pool, or a Dask cluster. One function,
:func:`run_tasks`, gives every backend the same task (:func:`mimetic.batch.tasks.analyze_input`) and yields
:class:`~mimetic.batch.tasks.TaskResult` s as they finish (in any order).

- ``workers == 1`` and no scheduler: in this process, one input after the other (the caller's Analyzer);
- ``workers > 1``: ``workers`` local worker processes (started with ``spawn``, each builds its own Analyzer on its
  first task), each one a ``concurrent.futures.ProcessPoolExecutor`` of one process, so that the one that dies or
  grows too big is known and replaced alone;
- ``scheduler="tcp://HOST:8786"``: a ``distributed.Client`` sends the tasks to that Dask cluster.

At most 2 tasks per worker are in flight, so a corpus of any size needs little memory in the command's process.
A worker that dies (killed, out of memory) has its task run again on a new worker process; an input on which
workers died twice is reported failed, never retried forever. A local worker whose resident memory is above
``max_memory_mb`` after a task is replaced by a fresh process; one above twice that during a task is killed (its
task counts as a death). See docs/scale.md.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from mimetic.batch.tasks import TaskOptions, TaskResult, analyze_input

#: A task as the command hands it over: (input path, output name, content hash[, time chunk]).
Job = tuple

#: How many times an input may be in flight when a worker dies before it is reported failed.
MAX_DEATHS = 2
#: The default bound on a local worker's resident memory (MB): ``--max-memory-per-worker``.
MAX_MEMORY_MB = 800
#: A worker above this many times the bound while a task runs is killed.
HARD_FACTOR = 2.0
#: Tasks in flight per local worker (one running, one waiting in its queue).
DEPTH = 2


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def scheduler_address(option: str | None) -> str | None:
    """``--scheduler``, else ``MIMETIC_SCHEDULER``, else ``None`` (run locally)."""
    return option or os.environ.get("MIMETIC_SCHEDULER") or None


def _chunk(job: Job):
    return job[3] if len(job) > 3 else None


def _died(job: Job, why: str) -> TaskResult:
    path, name, sha = job[:3]
    return TaskResult(input=path, name=name, sha256=sha, status="failed", chunk=_chunk(job),
                      error=f"{path}: {why}; it is not retried (a poison input?)")


def run_tasks(jobs: Iterable[Job], options: TaskOptions, *, workers: int = 1, scheduler: str | None = None,
              analyzer=None, progress_for: Callable[[str], Callable | None] | None = None,
              say: Callable[[str], None] | None = None, task: Callable[..., TaskResult] = analyze_input,
              max_memory_mb: float | None = MAX_MEMORY_MB) -> Iterator[TaskResult]:
    """Run ``task`` (:func:`analyze_input`; another importable function of the same signature in tests) on every
    job; yield the results as they finish. ``max_memory_mb``: the bound on a local worker's memory (None: none)."""
    if scheduler:
        yield from _dask(jobs, options, scheduler, task)
    elif workers <= 1:
        for job in jobs:
            path, name, sha = job[:3]
            yield task(path, name, options, sha256=sha, analyzer=analyzer, chunk=_chunk(job),
                       progress=progress_for(path) if progress_for else None, say=say)
    else:
        yield from _pool(jobs, options, workers, task, max_memory_mb)


def _worker_init() -> None:
    os.environ["MIMETIC_WORKER"] = "1"


def in_worker(task, path, name, options, sha256, chunk) -> TaskResult:
    """What a local worker process runs: the task, then its own resident memory (for the bound)."""
    result = task(path, name, options, sha256=sha256, chunk=chunk)
    try:
        import psutil

        result.memory_mb = psutil.Process().memory_info().rss / 2**20
    except Exception:  # psutil missing or refused: no bound
        pass
    return result


@dataclass
class _Slot:
    """One local worker: a pool of one process, its tasks in flight (oldest first: the one running)."""

    pool: object = None
    flight: deque = field(default_factory=deque)  # (future, job)
    draining: bool = False  # over the memory bound: no more tasks; replaced once its queue is empty
    killed_mb: float = 0.0  # the watchdog killed it at this size
    fresh: bool = True  # has not finished a task yet

    def pid(self) -> int | None:
        procs = getattr(self.pool, "_processes", None) or {}
        return next(iter(procs), None)


def _pool(jobs: Iterable[Job], options: TaskOptions, workers: int, task, max_memory_mb) -> Iterator[TaskResult]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")  # never fork a process that runs threads (the progress bar)
    pending = iter(jobs)
    retry: deque = deque()
    deaths: dict = {}
    slots = [_Slot() for _ in range(workers)]
    bound = max_memory_mb or 0.0
    warned = [False]

    def refill() -> None:
        for slot in slots:
            while not slot.draining and len(slot.flight) < DEPTH:
                job = retry.popleft() if retry else next(pending, None)
                if job is None:
                    return
                if slot.pool is None:
                    slot.pool = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_worker_init)
                    slot.fresh, slot.killed_mb = True, 0.0
                fut = slot.pool.submit(in_worker, task, job[0], job[1], options, job[2], _chunk(job))
                slot.flight.append((fut, job))

    def replace(slot: _Slot, wait_: bool = False) -> None:
        if slot.pool is not None:
            slot.pool.shutdown(wait=wait_, cancel_futures=True)
        slot.pool, slot.draining = None, False

    try:
        while True:
            refill()
            futures = [f for slot in slots for f, _ in slot.flight]
            if not futures:
                return
            done, _ = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
            if not done:
                if bound:
                    _watchdog(slots, bound * HARD_FACTOR)
                continue
            finished: list[TaskResult] = []
            for slot in slots:
                while slot.flight and slot.flight[0][0].done():
                    fut, job = slot.flight.popleft()
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        # This worker died on the task it was running (its oldest); the one queued behind it never
                        # started and goes back to the queue uncharged. A new process takes the slot.
                        deaths[job] = deaths.get(job, 0) + 1
                        why = (f"its worker process went over {HARD_FACTOR:g}× --max-memory-per-worker "
                               f"({slot.killed_mb:.0f} MB) and was stopped" if slot.killed_mb else
                               "a worker process died on it (killed or out of memory)")
                        if deaths[job] >= MAX_DEATHS:
                            finished.append(_died(job, f"{why}, {deaths[job]} times"))
                        else:
                            retry.append(job)
                        retry.extend(j for _, j in slot.flight)
                        slot.flight.clear()
                        replace(slot)
                        break
                    first, slot.fresh = slot.fresh, False
                    finished.append(result)
                    if bound and result.memory_mb > bound:
                        if not first:
                            slot.draining = True
                        elif not warned[0]:  # a new process would be as big: replacing it would only cost time
                            warned[0] = True
                            result.notes.append(f"note: a worker process holds {result.memory_mb:.0f} MB after "
                                                f"its first task, more than --max-memory-per-worker "
                                                f"{bound:.0f} MB; such workers are kept")
                if slot.draining and not slot.flight:
                    replace(slot, wait_=True)
            refill()  # the workers go on while the writer records these
            yield from finished
    finally:
        for slot in slots:
            if slot.pool is not None:
                slot.pool.shutdown(wait=True, cancel_futures=True)


def _watchdog(slots: list[_Slot], hard_mb: float) -> None:
    """Kill a worker whose resident memory is above ``hard_mb`` while it runs a task (its task counts a death)."""
    try:
        import psutil
    except ImportError:
        return
    for slot in slots:
        pid = slot.pid() if slot.flight else None
        if pid is None:
            continue
        try:
            rss = psutil.Process(pid).memory_info().rss / 2**20
            if rss > hard_mb:
                slot.killed_mb = rss
                psutil.Process(pid).kill()
        except psutil.Error:
            pass


def _dask(jobs: Iterable[Job], options: TaskOptions, scheduler: str, task) -> Iterator[TaskResult]:
    from distributed import Client, KilledWorker, as_completed

    from mimetic.errors import MimeticError

    pending = iter(jobs)
    try:
        client = Client(scheduler, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise MimeticError(f"cannot reach the Dask scheduler at {scheduler} ({type(e).__name__}: {e}); is "
                           f"`dask scheduler` running there, and is the address tcp://HOST:8786?") from e
    with client:
        window = 2 * max(1, sum(client.nthreads().values()))
        running: dict = {}

        def submit() -> bool:
            job = next(pending, None)
            if job is None:
                return False
            running[client.submit(task, job[0], job[1], options, sha256=job[2], chunk=_chunk(job), pure=False)] = job
            return True

        while len(running) < window and submit():
            pass
        finished = as_completed(list(running), loop=client.loop)
        for fut in finished:
            job = running.pop(fut)
            try:
                yield fut.result()
            except KilledWorker:
                yield _died(job, "Dask workers died while running it (killed or out of memory)")
            except Exception as e:  # the task itself never raises: this is the cluster's (lost data, ...)
                yield _died(job, f"the Dask cluster could not run it ({type(e).__name__}: {e})")
            while len(running) < window and submit():
                finished.add(next(reversed(running)))
