"""The Alembic migrations on SQLite and PostgreSQL: up and down on an empty and on a populated database, and the
models agree with what the migrations make."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import inspect, text
from storetools import cheap_hasher, make_result

from mimetic.store.db import current_revision, downgrade, upgrade

ACCOUNT_TABLES = {"users", "login_sessions", "invitations", "links", "practice_sessions", "exercise_results"}
ANNOTATION_TABLES = {"annotation_projects", "annotation_members", "annotation_items", "annotation_votes"}  # 0003


def tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_up_and_down_on_an_empty_database(bare_engine):
    assert tables(bare_engine) == set() and current_revision(bare_engine) is None
    upgrade(bare_engine)
    assert current_revision(bare_engine) == "0003_annotation"
    assert tables(bare_engine) == ACCOUNT_TABLES | ANNOTATION_TABLES | {"jobs"}
    downgrade(bare_engine, "0002_accounts_practice")
    assert tables(bare_engine) == ACCOUNT_TABLES | {"jobs"}
    downgrade(bare_engine, "0001_jobs")
    assert current_revision(bare_engine) == "0001_jobs" and tables(bare_engine) == {"jobs"}
    downgrade(bare_engine, "base")
    assert current_revision(bare_engine) is None and tables(bare_engine) == set()
    upgrade(bare_engine)
    assert tables(bare_engine) == ACCOUNT_TABLES | ANNOTATION_TABLES | {"jobs"}


def test_up_and_down_on_a_populated_database(bare_engine):
    from mimetic.store.accounts import AccountStore
    from mimetic.store.jobs import JobStore
    from mimetic.store.practice import PracticeStore

    upgrade(bare_engine, "0001_jobs")
    jobs = JobStore.__new__(JobStore)  # the job store on this engine, without making its own
    from sqlalchemy.orm import sessionmaker

    jobs.engine, jobs._session = bare_engine, sessionmaker(bare_engine, expire_on_commit=False)
    made = [jobs.create(source_name=f"clip{i}.mp4", params={"fps": i}).id for i in range(3)]
    jobs.finish(made[0], files=["frames.csv"], stats={"faces": 1}, frames=10)

    upgrade(bare_engine)
    assert {j.id for j in jobs.with_status("queued", "done")} == set(made)
    accounts = AccountStore(bare_engine, hasher=cheap_hasher())
    practice = PracticeStore(bare_engine)
    ana = accounts.create_user("ana@example.org", "a long passphrase")
    now = datetime.now(UTC)
    practice.save_session(ana.id, make_result(), day=date(2026, 11, 20), started_at=now, finished_at=now)
    assert practice.stats(ana.id)["total_sessions"] == 1

    downgrade(bare_engine, "0001_jobs")
    assert tables(bare_engine) == {"jobs"}
    assert jobs.get(made[0]).status == "done" and jobs.get(made[0]).files == ["frames.csv"]
    assert jobs.get(made[1]).params == {"fps": 1} and jobs.count() == 3  # the jobs survive

    upgrade(bare_engine)
    assert tables(bare_engine) == ACCOUNT_TABLES | ANNOTATION_TABLES | {"jobs"} and jobs.count() == 3
    with bare_engine.connect() as conn:  # the accounts went with their tables
        assert conn.execute(text("SELECT COUNT(*) FROM users")).scalar() == 0
    assert accounts.create_user("ana@example.org", "a long passphrase").email == "ana@example.org"


def test_models_match_the_migrations(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from mimetic.store.models import Base

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff
