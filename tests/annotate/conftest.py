"""Fixtures for the annotation tests: a migrated SQLite database in a temporary data directory, and users."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def engine(data_dir):
    from mimetic.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{data_dir / 'mimetic.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def people(engine):
    from argon2 import PasswordHasher

    from mimetic.store.accounts import AccountStore

    accounts = AccountStore(engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    return {n: accounts.create_user(f"{n}@example.org", f"{n}'s long passphrase", "clinician", n.title())
            for n in ("ana", "bo", "cy", "dee")}


@pytest.fixture
def store(engine, data_dir):
    from mimetic.store.annotation import AnnotationStore

    return AnnotationStore(engine, data_dir)
