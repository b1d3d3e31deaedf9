"""Fixtures for the store tests: every test that takes ``engine`` or ``bare_engine`` runs on SQLite (a file in a
temporary folder) and on PostgreSQL (``$MIMETIC_TEST_POSTGRES_URL``, one throwaway schema per test; skipped when the
variable is not set — ``.ci/run`` starts a server and sets it)."""

from __future__ import annotations

import os
import uuid

import pytest
from storetools import cheap_hasher

PG_URL = os.environ.get("MIMETIC_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="PostgreSQL store tests need MIMETIC_TEST_POSTGRES_URL=postgresql+psycopg://... "
                       "(.ci/run starts a throwaway server and sets it)"))]


@pytest.fixture(params=BACKENDS)
def bare_engine(request, tmp_path):
    """An empty database (no tables) on each backend."""
    from sqlalchemy import create_engine, text

    from mimetic.store.db import make_engine

    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
        yield engine
        engine.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_pre_ping=True)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(bare_engine):
    """A database migrated to the newest revision."""
    from mimetic.store.db import upgrade

    upgrade(bare_engine)
    return bare_engine


@pytest.fixture
def accounts(engine):
    from mimetic.store.accounts import AccountStore

    return AccountStore(engine, hasher=cheap_hasher())


@pytest.fixture
def practice(engine):
    from mimetic.store.practice import PracticeStore

    return PracticeStore(engine)


@pytest.fixture
def people(accounts):
    """Two patients and two clinicians."""
    return {
        "ana": accounts.create_user("ana@example.org", "ana's long passphrase", display_name="Ana"),
        "bo": accounts.create_user("bo@example.org", "bo's long passphrase", display_name="Bo"),
        "dr_c": accounts.create_user("c@clinic.example", "clinician c passphrase", "clinician", "Dr C"),
        "dr_d": accounts.create_user("d@clinic.example", "clinician d passphrase", "clinician", "Dr D"),
    }
