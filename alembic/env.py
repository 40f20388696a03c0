"""Alembic environment: the engine comes from claimwatch (config.attributes["engine"]) or CLAIMWATCH_DB."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from monitor.config import load_settings
from monitor.db import make_engine
from monitor.models import SEARCH_OBJECTS, Base

target_metadata = Base.metadata
# tables other software keeps in the same database (APScheduler's job store) are not ours to migrate
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # the full-text index of statements (migration 0005) has no model
    return not (type_ == "table" and name in FOREIGN_TABLES or name in SEARCH_OBJECTS)


def run_migrations_online() -> None:
    engine: Engine | None = context.config.attributes.get("engine")
    if engine is None:
        engine = make_engine(load_settings().db_url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `claimwatch init`")
run_migrations_online()
