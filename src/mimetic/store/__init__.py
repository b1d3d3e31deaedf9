"""Persistence: SQLAlchemy models and queries, Alembic migrations shipped inside the package.

>>> from mimetic.store import JobStore
>>> store = JobStore("sqlite:////tmp/mimetic.db")
>>> store.migrate()                      # alembic upgrade head, programmatically
>>> job = store.create(source_name="clip.mp4", params={"fps": 10})
>>> store.get(job.id).status
'queued'

Accounts (:class:`AccountStore`) and practice sessions (:class:`PracticeStore`) live in the same database; see
docs/accounts.md. Nothing here imports the web layer; the web app, the CLI or a script can use the same store.
"""

from __future__ import annotations

from mimetic.store.accounts import AccountError, AccountStore, UserRecord
from mimetic.store.db import default_database_url
from mimetic.store.jobs import JOB_STATUSES, TERMINAL, JobRecord, JobStore
from mimetic.store.practice import PracticeStore

__all__ = ["JOB_STATUSES", "TERMINAL", "AccountError", "AccountStore", "JobRecord", "JobStore", "PracticeStore",
           "UserRecord", "default_database_url"]
