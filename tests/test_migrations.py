"""Migrations: upgrade -> downgrade -> upgrade, and the models agree with the migrated schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from monitor.db import downgrade, make_engine, upgrade
from monitor.models import SEARCH_OBJECTS, Base


def test_upgrade_downgrade_upgrade_matches_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        downgrade(engine, "base")
        with engine.connect() as connection:
            leftover = set(inspect(connection).get_table_names()) - {"alembic_version"}
        assert leftover == set(), f"downgrade left tables behind: {leftover}"
        upgrade(engine)
        upgrade(engine)  # idempotent
        with engine.connect() as connection:
            # the full-text index of statements (FTS5 tables, a GIN index) has no model
            context = MigrationContext.configure(connection, opts={
                "compare_type": True, "include_object": lambda _obj, name, *_: name not in SEARCH_OBJECTS})
            differences = compare_metadata(context, Base.metadata)
        assert differences == [], f"models and migrations disagree: {differences}"
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
