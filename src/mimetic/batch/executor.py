"""Where the tasks run: the command's own process, a local process pool, or a Dask cluster. One function,
:func:`run_tasks`, gives every backend the same task (:func:`mimetic.batch.tasks.analyze_input`) and yields
:class:`~mimetic.batch.tasks.TaskResult` s as they finish (in any order).

- ``workers == 1`` and no scheduler: in this process, one input after the other (the caller's Analyzer);
- ``workers > 1``: a ``concurrent.futures.ProcessPoolExecutor`` of ``workers`` processes (started with ``spawn``,
  each builds its own Analyzer on its first task);
- ``scheduler="tcp://HOST:8786"``: a ``distributed.Client`` sends the tasks to that Dask cluster.

At most ``2 × workers`` tasks are in flight, so a corpus of any size needs little memory in the command's process.
A worker that dies (killed, out of memory) has its tasks run again; an input in flight when workers died twice is
reported failed, never retried forever (see docs/scale.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from mimetic.batch.tasks import TaskOptions, TaskResult, analyze_input

#: A task as the command hands it over: (input path, output name, content hash).
Job = tuple[str, str, str]

#: How many times an input may be in flight when a worker dies before it is reported failed.
MAX_DEATHS = 2


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def scheduler_address(option: str | None) -> str | None:
    """``--scheduler``, else ``MIMETIC_SCHEDULER``, else ``None`` (run locally)."""
    return option or os.environ.get("MIMETIC_SCHEDULER") or None


def _died(job: Job, why: str) -> TaskResult:
    path, name, sha = job
    return TaskResult(input=path, name=name, sha256=sha, status="failed",
                      error=f"{path}: {why}; it is not retried (a poison input?)")


def run_tasks(jobs: Iterable[Job], options: TaskOptions, *, workers: int = 1, scheduler: str | None = None,
              analyzer=None, progress_for: Callable[[str], Callable | None] | None = None,
              say: Callable[[str], None] | None = None, task: Callable[..., TaskResult] = analyze_input
              ) -> Iterator[TaskResult]:
    """Run ``task`` (:func:`analyze_input`; another importable function of the same signature in tests) on every
    job; yield the results as they finish."""
    if scheduler:
        yield from _dask(jobs, options, scheduler, task)
    elif workers <= 1:
        for path, name, sha in jobs:
            yield task(path, name, options, sha256=sha, analyzer=analyzer,
                       progress=progress_for(path) if progress_for else None, say=say)
    else:
        yield from _pool(jobs, options, workers, task)


def _pool(jobs: Iterable[Job], options: TaskOptions, workers: int, task) -> Iterator[TaskResult]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pending = iter(jobs)
    retry: list[Job] = []
    deaths: dict[Job, int] = {}
    context = multiprocessing.get_context("spawn")  # never fork a process that runs threads (the progress bar)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    running: dict = {}
    try:
        while True:
            # After a worker died, the tasks it may have taken down run one at a time, so that a second death is
            # charged to the input that caused it, not to its neighbours.
            isolate = bool(retry) or any(j in deaths for j in running.values())
            while len(running) < (1 if isolate else 2 * workers):
                job = retry.pop() if retry else next(pending, None)
                if job is None:
                    break
                running[pool.submit(task, job[0], job[1], options, sha256=job[2])] = job
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                job = running.pop(fut)
                try:
                    yield fut.result()
                except BrokenProcessPool:
                    broken = True
                    deaths[job] = deaths.get(job, 0) + 1
                    if deaths[job] >= MAX_DEATHS:
                        yield _died(job, f"a worker process died on it {deaths[job]} times (killed or out of memory)")
                    else:
                        retry.append(job)
            if broken:  # every task still running died with the pool: count it, start a new pool, run them again
                for fut, job in running.items():
                    deaths[job] = deaths.get(job, 0) + 1
                    if deaths[job] >= MAX_DEATHS:
                        yield _died(job, f"a worker process died while it ran, {deaths[job]} times")
                    else:
                        retry.append(job)
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


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
            running[client.submit(task, job[0], job[1], options, sha256=job[2], pure=False)] = job
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
