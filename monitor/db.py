"""Engine, sessions and schema migrations. One engine per process, made on request, never at import."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import DEFAULT_BUSY_TIMEOUT


class DatabaseError(Exception):
    """The database cannot be used; the message says why in one line."""


def _sqlite_pragmas(busy_timeout: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    return on_connect


_SUPPORTED_URLS = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"})


def parse_db_url(db_url: str) -> URL:
    """The URL of a database claimwatch can use (SQLite or PostgreSQL through psycopg 3); anything else
    raises DatabaseError with a one-line reason. ``parse_db_url("postgres://h/db")`` raises."""
    try:
        url = make_url(db_url)
    except ArgumentError as exc:
        shown = re.sub(r":[^:@/]*@", ":***@", db_url)  # never echo a password
        raise DatabaseError(f"invalid database URL {shown!r} (use {_SUPPORTED_URLS})") from exc
    if url.drivername not in _DRIVERS:
        raise DatabaseError(f"unsupported database URL {url.render_as_string()!r} (use {_SUPPORTED_URLS})")
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def sqlite_path(db_url: str) -> Path | None:
    """The file a SQLite URL names; None for an in-memory or URI-style SQLite database, or another one."""
    url = parse_db_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:") or url.query.get("uri"):
        return None
    return Path(url.database)


def require_database_file(db_url: str) -> None:
    """Fail when a SQLite URL names a file that does not exist, rather than create an empty one (only
    ``claimwatch init`` creates a database)."""
    path = sqlite_path(db_url)
    if path is not None and not path.is_file():
        raise DatabaseError(f"no database at {path} (create it with `claimwatch init`)")


def make_engine(db_url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """Create the engine for a URL: SQLite in WAL mode with foreign keys, or PostgreSQL via psycopg 3.

    ``busy_timeout``: seconds a SQLite writer waits for another writer's lock before "database is locked"
    (``CLAIMWATCH_DB_BUSY_TIMEOUT``)."""
    url = parse_db_url(db_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(db_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": busy_timeout})
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except ImportError as exc:  # the driver is not installed
        raise DatabaseError(f"cannot use database URL {url.render_as_string()!r}: {exc}") from exc


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    from monitor.resources import resource_root

    root = resource_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema (``alembic upgrade head``); safe to run again."""
    from alembic import command

    try:
        command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise DatabaseError(f"cannot reach database {engine.url.render_as_string()}: {exc.orig}") from exc


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def check_ready(engine: Engine) -> None:
    """Fail with a clear message when the database is unreachable or not initialised."""
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
    except OperationalError as exc:
        raise DatabaseError(f"cannot reach database {engine.url.render_as_string()}: {exc.orig}") from exc
    if "site" not in tables:
        raise DatabaseError("the database is not initialised: run `claimwatch init` first")
