"""Queries on the jobs table. Callers get plain :class:`JobRecord` snapshots, never live ORM objects, so a record
can cross threads and outlive its session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from mimetic.store.db import aware, make_engine, upgrade, utcnow
from mimetic.store.models import Job

#: Every status a job can have, in lifecycle order.
JOB_STATUSES = ("queued", "running", "done", "failed")
#: Statuses a job never leaves.
TERMINAL = frozenset({"done", "failed"})



@dataclass(frozen=True)
class JobRecord:
    id: str
    status: str
    kind: str = "video"
    progress: float = 0.0
    frames: int = 0
    frames_total: int | None = None
    error: str | None = None
    source_name: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    stats: dict[str, Any] | None = None
    keep_media: bool = False
    owner_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def of(cls, row: Job) -> "JobRecord":
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        for k in ("created_at", "updated_at", "started_at", "finished_at"):
            values[k] = aware(values[k])
        values["params"] = dict(values["params"] or {})
        values["files"] = list(values["files"] or [])
        return cls(**values)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


def is_job_id(value: str) -> bool:
    """True when ``value`` is a canonical UUID string (the only form the server ever hands out)."""
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, AttributeError, TypeError):
        return False


class JobStore:
    """The jobs table behind one database URL. Thread-safe: every call opens its own short session."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring the schema up to date (``alembic upgrade head``)."""
        upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- writes ------------------------------------------------------------------------------------------------
    def create(self, *, source_name: str | None = None, params: dict[str, Any] | None = None,
               keep_media: bool = False, owner_id: str | None = None, kind: str = "video",
               job_id: str | None = None) -> JobRecord:
        now = utcnow()
        row = Job(id=job_id or str(uuid.uuid4()), kind=kind, status="queued", progress=0.0, frames=0,
                  source_name=source_name, params=dict(params or {}), files=[], keep_media=keep_media,
                  owner_id=owner_id, created_at=now, updated_at=now)
        with self._session.begin() as s:
            s.add(row)
            s.flush()
            return JobRecord.of(row)

    def update(self, job_id: str, **values: Any) -> JobRecord | None:
        """Set columns of one job (``updated_at`` too); returns the new snapshot, or None if it is gone."""
        values["updated_at"] = utcnow()
        with self._session.begin() as s:
            row = s.get(Job, job_id)
            if row is None:
                return None
            for k, v in values.items():
                setattr(row, k, v)
            s.flush()
            return JobRecord.of(row)

    def start(self, job_id: str) -> JobRecord | None:
        return self.update(job_id, status="running", started_at=utcnow(), error=None)

    def finish(self, job_id: str, *, files: list[str], stats: dict[str, Any] | None, frames: int) -> JobRecord | None:
        return self.update(job_id, status="done", progress=1.0, files=files, stats=stats, frames=frames,
                           finished_at=utcnow())

    def fail(self, job_id: str, reason: str, *, files: list[str] | None = None) -> JobRecord | None:
        values: dict[str, Any] = {"status": "failed", "error": reason, "finished_at": utcnow()}
        if files is not None:
            values["files"] = files
        return self.update(job_id, **values)

    def delete(self, job_id: str) -> bool:
        with self._session.begin() as s:
            return s.execute(delete(Job).where(Job.id == job_id)).rowcount > 0

    def recover(self, reason: str = "interrupted: the server stopped while this job was running") -> list[str]:
        """At start-up: mark every ``running`` job failed with ``reason``; returns their ids.

        ``queued`` jobs are left for the caller to re-queue (their uploads are still on disk) or fail.
        """
        with self._session.begin() as s:
            ids = list(s.scalars(select(Job.id).where(Job.status == "running")))
            if ids:
                now = utcnow()
                s.execute(update(Job).where(Job.id.in_(ids))
                          .values(status="failed", error=reason, finished_at=now, updated_at=now))
            return ids

    # -- reads -------------------------------------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord | None:
        if not is_job_id(job_id):
            return None
        with self._session() as s:
            row = s.get(Job, job_id)
            return JobRecord.of(row) if row is not None else None

    def with_status(self, *statuses: str) -> list[JobRecord]:
        with self._session() as s:
            rows = s.scalars(select(Job).where(Job.status.in_(statuses)).order_by(Job.created_at))
            return [JobRecord.of(r) for r in rows]

    def owned_by(self, owner_id: str) -> list[JobRecord]:
        """Every job of one user."""
        with self._session() as s:
            rows = s.scalars(select(Job).where(Job.owner_id == owner_id).order_by(Job.created_at))
            return [JobRecord.of(r) for r in rows]

    def finished_before(self, age: timedelta) -> list[JobRecord]:
        """Finished jobs whose ``finished_at`` is older than ``age`` (for expiry)."""
        cutoff = utcnow() - age
        with self._session() as s:
            rows = s.scalars(select(Job).where(Job.status.in_(tuple(TERMINAL)), Job.finished_at < cutoff))
            return [JobRecord.of(r) for r in rows]

    def count(self, *statuses: str) -> int:
        with self._session() as s:
            q = select(Job.id)
            if statuses:
                q = q.where(Job.status.in_(statuses))
            return len(list(s.scalars(q)))

    def session(self) -> Session:
        """A raw session, for code that needs more than these queries."""
        return self._session()
