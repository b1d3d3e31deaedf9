"""Video jobs: a bounded queue, worker threads that each own an Analyzer, progress, cancellation and recovery.

A job's life: ``POST /api/v1/jobs`` streams the upload into ``<data>/jobs/<id>/source.<ext>``, checks it by
decoding (:mod:`mimetic.web.videocheck`), creates the row (``queued``) and puts the id on the queue (503 when the
queue is full). A worker marks it ``running`` and streams the video through
:func:`mimetic.batch.run.analyze_video_file` — the same code as ``mimetic video --spot --timeline --report``, with a
plain progress callback and a cancel callback — into ``frames.csv``, ``frames.jsonl`` and ``annotated.mp4`` (with
event markers), the per-track ``timeline.csv`` with its ``windows.csv``, ``changes.csv`` (the change log) and
``events.csv`` (spotted micro-/macro-expressions), and the self-contained ``report.html`` (each written
atomically); then it builds ``timeline.json`` and the statistics from the same in-memory per-video analysis
(:mod:`mimetic.web.timeline`; nothing is re-read from the files just written) and marks it ``done``. Any error marks it ``failed`` with the reason. Temporary files
(and the report's PNG folder) are removed when the job ends, and the upload too unless the job was created with
``keep``.

At start-up, jobs left ``running`` by a stopped server are marked failed with a reason; ``queued`` ones are queued
again (their upload is still there) or failed when it is gone.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from mimetic.errors import InputError, MimeticError
from mimetic.store import JobRecord, JobStore
from mimetic.store.jobs import is_job_id
from mimetic.web.errors import ApiError, disk_full

log = logging.getLogger("mimetic.web.jobs")

RESULT_CSV = "frames.csv"
RESULT_JSONL = "frames.jsonl"
RESULT_VIDEO = "annotated.mp4"
RESULT_TIMELINE = "timeline.json"
RESULT_REPORT = "report.html"
RESULT_TIMELINE_CSV = "timeline.csv"
#: the video module writes these beside timeline.csv as timeline.<tag>.csv; a job keeps them as <tag>.csv
RESULT_SIBLINGS = ("windows", "changes", "events")
#: how often a running job's progress is written to the database (seconds); readers also see it in memory
DB_EVERY = 1.0
RESTART_REASON = "interrupted: the server stopped while this job was running; upload the video again"


class Stop(Exception):
    """Raised inside a running job to end it (cancelled, time limit, server shutting down)."""


@dataclass
class Progress:
    frames: int = 0
    total: int | None = None
    status: str = "queued"
    updated: float = 0.0

    @property
    def fraction(self) -> float:
        if self.status == "done":
            return 1.0
        if not self.total:
            return 0.0
        return min(0.99, self.frames / self.total)


class _JobProgress:
    """A running job's ``progress(done, total)`` and ``cancel()`` callbacks for
    :meth:`mimetic.Analyzer.analyze_video`: progress goes to memory at once and to the database every
    ``DB_EVERY`` seconds; cancel raises :class:`Stop` (cancelled, time limit, server stopping)."""

    def __init__(self, runner: "JobRunner", job_id: str, deadline: float):
        self.runner, self.job_id, self.deadline = runner, job_id, deadline
        self._db_at = 0.0
        self._total: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        p = self.runner._progress.setdefault(self.job_id, Progress(status="running"))
        p.frames, p.total = done, total
        now = time.monotonic()
        p.updated = now
        if total != self._total:
            self._total = total
            self.runner.store.update(self.job_id, frames_total=total)
        if now - self._db_at >= DB_EVERY:
            self._db_at = now
            self.runner.store.update(self.job_id, frames=done, progress=p.fraction)

    def cancel(self) -> bool:
        self.runner._check_stop(self.job_id, time.monotonic(), self.deadline)
        return False


class JobRunner:
    def __init__(self, store: JobStore, root: Path, *, workers: int, max_queued: int, job_timeout: float,
                 ttl: float, make_analyzer: Callable[[], Any]):
        self.store = store
        self.root = root
        self.workers = max(1, workers)
        self.job_timeout = job_timeout
        self.ttl = ttl
        self._make = make_analyzer
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=max(1, max_queued))
        self._progress: dict[str, Progress] = {}
        self._cancel: set[str] = set()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Recover from a previous run, then start the worker threads."""
        failed = self.store.recover(RESTART_REASON)
        for job_id in failed:
            self._end_interrupted(job_id)
        for folder in self.root.iterdir():  # uploads cut off by the stop, before their job row existed
            if folder.is_dir() and (not is_job_id(folder.name) or self.store.get(folder.name) is None):
                shutil.rmtree(folder, ignore_errors=True)
        for job in self.store.with_status("queued"):
            source = job.params.get("source")
            if source and (self.root / job.id / source).is_file():
                try:
                    self._queue.put_nowait(job.id)
                    continue
                except queue.Full:
                    pass
            self.store.fail(job.id, RESTART_REASON)
            self._end_interrupted(job.id)
        for n in range(self.workers):
            t = threading.Thread(target=self._work, name=f"mimetic-job-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers: a running job ends as failed (the restart reason); queued ones stay queued."""
        self._stopping.set()
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    # -- API ---------------------------------------------------------------------------------------------------
    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    def has_room(self) -> bool:
        return not self._queue.full()

    def queued(self) -> int:
        return self._queue.qsize()

    def submit(self, job: JobRecord) -> None:
        """Queue a created job. Raises ApiError 503 when the queue is full (the job is then removed)."""
        try:
            self._queue.put_nowait(job.id)
        except queue.Full:
            self.delete(job.id)
            raise ApiError(503, f"the job queue is full ({self._queue.maxsize} videos waiting); try again later",
                           headers={"Retry-After": "30"}) from None
        self._progress[job.id] = Progress(status="queued", updated=time.monotonic())

    def get(self, job_id: str, viewer: str | None) -> JobRecord:
        """The job for ``viewer`` (the logged-in user's id, or None): 404 when it does not exist or belongs to
        someone else (a job made by a logged-in user is theirs; an anonymous job's id is its capability)."""
        job = self.store.get(job_id)
        if job is None or (job.owner_id is not None and job.owner_id != viewer):
            raise ApiError(404, f"no job with id {job_id!r}")
        return job

    def delete_owned_by(self, owner: str) -> int:
        """Delete every job of one user, running ones stopped first (their account is being deleted); how many."""
        jobs = self.store.owned_by(owner)
        return sum(self.delete(job.id) for job in jobs)

    def live(self, job_id: str) -> Progress | None:
        """In-memory progress of a running job (fresher than the database row)."""
        return self._progress.get(job_id)

    def delete(self, job_id: str) -> bool:
        """Remove a job and its files; a running job is stopped first (it ends as failed, then is removed)."""
        job = self.store.get(job_id)
        if job is None:
            return False
        if job.status == "running":
            self._cancel.add(job_id)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (self.store.get(job_id) or job).status == "running":
                time.sleep(0.05)
        elif job.status == "queued":
            self._cancel.add(job_id)
        self.store.delete(job_id)
        shutil.rmtree(self.folder(job_id), ignore_errors=True)
        self._progress.pop(job_id, None)
        return True

    def expire(self) -> int:
        if self.ttl <= 0:
            return 0
        old = self.store.finished_before(timedelta(seconds=self.ttl))
        for job in old:
            self.delete(job.id)
        return len(old)

    # -- workers -----------------------------------------------------------------------------------------------
    def _check_stop(self, job_id: str, now: float, deadline: float) -> None:
        if job_id in self._cancel:
            raise Stop("cancelled")
        if self._stopping.is_set():
            raise Stop(RESTART_REASON)
        if now > deadline:
            raise Stop(f"the job took longer than the {self.job_timeout:g} s time limit")

    def _work(self) -> None:
        analyzer = None
        try:
            while not self._stopping.is_set():
                job_id = self._queue.get()
                if job_id is None:
                    break
                if job_id in self._cancel:
                    self._cancel.discard(job_id)
                    continue
                if analyzer is None:
                    analyzer = self._make()
                try:
                    self._run(analyzer, job_id)
                except Exception:  # e.g. the database cannot record the failure (full disk): the worker goes on
                    log.exception("job %s could not be run or recorded", job_id)
        finally:
            if analyzer is not None:
                analyzer.close()

    def _run(self, analyzer, job_id: str) -> None:
        from mimetic.batch.run import analyze_video_file

        job = self.store.get(job_id)
        if job is None or job.status != "queued":
            return
        params = job.params
        folder = self.folder(job_id)
        source = folder / str(params.get("source", ""))
        self.store.start(job_id)
        self._progress[job_id] = Progress(status="running", updated=time.monotonic())
        progress = _JobProgress(self, job_id, time.monotonic() + self.job_timeout)
        formats = ["csv"] + (["json"] if params.get("jsonl", True) else [])
        annotate = folder / RESULT_VIDEO if params.get("annotate", True) else None
        files: list[str] = []
        try:
            if not source.is_file():
                raise Stop("the uploaded video is gone")
            run = analyze_video_file(analyzer, source, "frames", folder, formats, annotate=annotate,
                                     fps=params.get("fps"), stride=int(params.get("stride") or 1),
                                     start=float(params.get("start") or 0.0), end=params.get("end"),
                                     progress=progress, cancel=progress.cancel,
                                     timeline=folder / RESULT_TIMELINE_CSV, report=folder / RESULT_REPORT,
                                     spot=True, source_name=job.source_name or "video")
            files = [RESULT_CSV] + ([RESULT_JSONL] if "json" in formats else [])
            if annotate is not None and annotate.is_file():
                files.append(RESULT_VIDEO)
            for name in (RESULT_REPORT, RESULT_TIMELINE_CSV):
                if (folder / name).is_file():
                    files.append(name)
            for tag in RESULT_SIBLINGS:  # timeline.changes.csv -> changes.csv (names stay fixed literals)
                written = folder / f"{Path(RESULT_TIMELINE_CSV).stem}.{tag}.csv"
                if written.is_file():
                    written.replace(folder / f"{tag}.csv")
                    files.append(f"{tag}.csv")
            from mimetic.export import dumps
            from mimetic.web.timeline import page_data

            # the page's timeline and statistics come from the same in-memory analysis as the report and CSVs
            timeline, stats = page_data(run.analysis)
            tmp = folder / f".{RESULT_TIMELINE}.partial"
            tmp.write_text(dumps(timeline))
            tmp.replace(folder / RESULT_TIMELINE)
            files.append(RESULT_TIMELINE)
            if job.keep_media:
                files.append(source.name)
            self._settle(job_id, job.keep_media, files)
            self.store.finish(job_id, files=files, stats=stats, frames=run.frames)
            self._mark(job_id, "done")
        except Stop as exc:
            self._settle(job_id, job.keep_media)
            self.store.fail(job_id, str(exc), files=[source.name] if job.keep_media and source.is_file() else [])
            self._mark(job_id, "failed")
        except (InputError, MimeticError) as exc:
            reason = exc.cause if isinstance(exc, InputError) else str(exc)
            self._settle(job_id, job.keep_media)
            self.store.fail(job_id, f"the video could not be analysed: {reason}",
                            files=[source.name] if job.keep_media and source.is_file() else [])
            self._mark(job_id, "failed")
        except Exception as exc:
            if disk_full(exc):
                log.error("job %s failed: the disk is full (%s)", job_id, exc)
                reason = "the server's disk was full: the job's results could not be written"
            else:
                log.exception("job %s failed", job_id)
                reason = f"unexpected error: {type(exc).__name__}: {exc}"
            self._settle(job_id, job.keep_media)
            self.store.fail(job_id, reason, files=[source.name] if job.keep_media and source.is_file() else [])
            self._mark(job_id, "failed")
        finally:
            self._cancel.discard(job_id)
            done = self.store.get(job_id)
            self._cleanup(job_id, keep_source=bool(done and done.keep_media), keep=set(done.files) if done else set())
            self._progress.pop(job_id, None)  # the row now holds the final state

    def _settle(self, job_id: str, keep_media: bool, files: list[str] | None = None) -> None:
        """Remove what the job leaves behind before its final state is recorded, so that a client that sees the
        state never sees partial files (the ``finally`` clean-up after it is a safety net)."""
        try:
            self._cleanup(job_id, keep_source=keep_media, keep=set(files or ()))
        except OSError:
            log.exception("job %s: temporary files could not be removed", job_id)

    def _end_interrupted(self, job_id: str) -> None:
        """A job failed by a restart: remove its partial results (and its upload unless kept)."""
        job = self.store.get(job_id)
        if job is None:
            return
        self._cleanup(job_id, keep_source=job.keep_media, keep=set())
        source = str(job.params.get("source", ""))
        if job.keep_media and source and (self.folder(job_id) / source).is_file():
            self.store.update(job_id, files=[source])

    def _mark(self, job_id: str, status: str) -> None:
        p = self._progress.get(job_id)
        if p is not None:
            p.status = status
            p.updated = time.monotonic()

    def _cleanup(self, job_id: str, *, keep_source: bool, keep: set[str] | None = None) -> None:
        """Remove temporary files, and the upload unless kept; leave the listed result files."""
        folder = self.folder(job_id)
        if not folder.is_dir():
            return
        job = self.store.get(job_id)
        source = str(job.params.get("source", "")) if job else ""
        for p in folder.iterdir():
            if p.is_dir() and not p.is_symlink():  # the report's PNG plots (report_plots/): inside report.html too
                shutil.rmtree(p, ignore_errors=True)
            elif p.name.startswith(".") or ".partial" in p.name:
                p.unlink(missing_ok=True)
            elif p.name == source and not keep_source:
                p.unlink(missing_ok=True)
            elif keep is not None and p.name not in keep and p.name != source:
                p.unlink(missing_ok=True)
