"""Alembic migrations for :mod:`mimetic.store` (run by ``JobStore.migrate()``; ``script_location`` is this folder)."""
