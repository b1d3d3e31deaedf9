"""Engines and migrations: one SQLite file in the data directory by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    """Now, in UTC (everything stored is UTC)."""
    return datetime.now(UTC)


def aware(t: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    if t is not None and t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t


def default_database_url(data_dir: str | os.PathLike[str]) -> str:
    """``$MIMETIC_DATABASE_URL`` if set, else ``sqlite:///<data_dir>/mimetic.db``."""
    url = os.environ.get("MIMETIC_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{Path(data_dir).expanduser().resolve() / 'mimetic.db'}"


def make_engine(url: str) -> Engine:
    """An engine usable from several threads. SQLite gets WAL journalling and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            if path and path != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic(engine: Engine, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """``alembic upgrade head`` on ``engine``, with the migrations shipped in this package."""
    _alembic(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """``alembic downgrade <revision>`` on ``engine`` (e.g. ``"0001_jobs"``, or ``"base"`` to drop everything)."""
    _alembic(engine, "downgrade", revision)


def engine_of(url_or_engine: "str | Engine") -> tuple[Engine, bool]:
    """(engine, whether it was made here, so the caller owns and disposes it) for a URL or an engine."""
    if isinstance(url_or_engine, Engine):
        return url_or_engine, False
    return make_engine(str(url_or_engine)), True


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
