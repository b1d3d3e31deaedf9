"""What the app holds while it runs: settings, the job store and runner, the photo pool and results, the live
executor. Built at start-up (:meth:`Services.start`), closed at shutdown."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mimetic.store import AccountStore, JobStore, PracticeStore
from mimetic.web.images import ImageResults
from mimetic.web.jobs import JobRunner
from mimetic.web.settings import Settings
from mimetic.web.workers import AnalyzerPool

log = logging.getLogger("mimetic.web")


def _warm(analyzer) -> None:
    """Load an analyzer's image models (one call on a blank picture) and the modules the outputs need."""
    import numpy as np

    from mimetic.render import musclemap, overlay  # noqa: F401
    from mimetic.table import frame_from_results

    result = analyzer.analyze_array(np.full((96, 96, 3), 128, np.uint8))
    frame_from_results([result])


def _accounts(settings: Settings, store: JobStore):
    """The account and practice stores on the job store's engine, and the login limiter."""
    from datetime import timedelta

    from argon2 import PasswordHasher

    from mimetic.web.auth import LoginLimiter

    hasher = PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_cost,
                            parallelism=settings.argon2_parallelism)
    accounts = AccountStore(store.engine, hasher=hasher,
                            session_lifetime=timedelta(seconds=settings.session_lifetime),
                            invitation_lifetime=timedelta(seconds=settings.invitation_lifetime))
    return accounts, PracticeStore(store.engine), LoginLimiter(settings)


@dataclass
class Services:
    settings: Settings
    store: JobStore
    runner: JobRunner
    images: ImageResults
    image_pool: AnalyzerPool
    live_executor: ThreadPoolExecutor
    live_sessions: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: users, logins, invitations, links (docs/accounts.md); the same database as the jobs
    accounts: AccountStore | None = None
    #: practice sessions and their results
    practice: PracticeStore | None = None
    #: failed-login and registration counters (mimetic.web.auth.LoginLimiter)
    limiter: object | None = None
    #: the data directory's lock (mimetic.web.datalock), held until close
    lock: object | None = None

    @classmethod
    def start(cls, settings: Settings, *, warm: bool = True) -> "Services":
        from mimetic.web.datalock import DataDirLock

        data = Path(settings.data_dir).expanduser()
        data.mkdir(parents=True, exist_ok=True)
        # before anything looks at the jobs: a second server would fail the first one's running jobs
        lock = DataDirLock(data, f"http://{settings.host}:{settings.port}").acquire()
        try:
            return cls._start(settings, data, lock, warm=warm)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _start(cls, settings: Settings, data: Path, lock, *, warm: bool) -> "Services":
        from mimetic.analyzer import Analyzer

        store = JobStore(settings.db_url)
        store.migrate()  # every table: jobs, accounts, practice
        accounts, practice, limiter = _accounts(settings, store)

        def make_analyzer() -> Analyzer:
            return Analyzer(max_faces=settings.max_faces, min_face=settings.min_face,
                            max_pixels=settings.max_image_pixels)

        runner = JobRunner(store, data / "jobs", workers=settings.job_workers, max_queued=settings.max_queued_jobs,
                           job_timeout=settings.job_timeout, ttl=settings.job_ttl, make_analyzer=make_analyzer)
        runner.start()
        pool = AnalyzerPool(settings.image_workers, max_pending=settings.max_pending_images,
                            make_analyzer=make_analyzer, name="photo")
        if warm:
            pool.warm(_warm)
        images = ImageResults(data / "images", ttl=settings.image_ttl)
        live = ThreadPoolExecutor(max(1, settings.max_live_sessions), thread_name_prefix="mimetic-live")
        log.info("data directory %s; database %s", data, settings.db_url.split("@")[-1])
        return cls(settings, store, runner, images, pool, live, accounts=accounts, practice=practice,
                   limiter=limiter, lock=lock)

    def try_open_live(self) -> bool:
        with self._lock:
            if self.live_sessions >= self.settings.max_live_sessions:
                return False
            self.live_sessions += 1
            return True

    def close_live(self) -> None:
        with self._lock:
            self.live_sessions = max(0, self.live_sessions - 1)

    def expire(self) -> tuple[int, int]:
        """Delete expired photo results and finished jobs; (photos, jobs) removed."""
        if self.accounts is not None:
            self.accounts.purge_expired()
        return self.images.expire(), self.runner.expire()

    def close(self) -> None:
        self.runner.stop()
        self.image_pool.close()
        self.live_executor.shutdown(wait=True, cancel_futures=True)
        self.store.close()
        if self.lock is not None:
            self.lock.release()
