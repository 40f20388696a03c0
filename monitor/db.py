"""Engine, sessions and schema migrations. One engine per process, made on request, never at import."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's busy timeout alone orders the writers
    fcntl = None  # type: ignore[assignment]

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


def sqlite_file(engine: Engine) -> str | None:
    """The path of the engine's SQLite database file; None for an in-memory one or another database."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return url.database


class WriteLock:
    """Serialises claimwatch's writers to one SQLite file across processes, waking a waiter the moment the
    holder is done.

    SQLite lets one writer in at a time and makes the others poll: its busy handler sleeps 1, 2, 5, 10...
    ms between tries, so two page workers storing at once lose a millisecond or more per page to sleeping
    while the lock is long free. An ``flock`` on a file beside the database (``<db>.writelock``) is
    granted by the kernel as soon as it is released. Writers that do not take it (the ``sqlite3`` shell,
    another program) still meet SQLite's own lock and busy timeout: this lock only orders claimwatch's.
    For PostgreSQL, an in-memory database, or a folder where the lock file cannot be made, it does nothing.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_engine(cls, engine: Engine) -> WriteLock:
        database = sqlite_file(engine)
        return cls(Path(database + ".writelock") if database else None)

    def _open(self) -> int | None:
        if self._fd is None and self.path is not None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError:
                self.path = None  # read-only folder: rely on SQLite's busy timeout alone
        return self._fd

    @contextlib.contextmanager
    def held(self, wait: bool = True) -> Iterator[bool]:
        """Hold the lock for the ``with`` block, which gets True; with ``wait=False``, False at once
        (and the lock not held) when another writer has it."""
        fd = self._open()
        if fd is None or fcntl is None:
            yield True
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def defer_checkpoints(engine: Engine) -> bool:
    """Stop this engine's SQLite connections from checkpointing the WAL at the end of a commit (SQLite's
    default, every 1,000 pages of WAL): the caller runs ``checkpoint`` itself, outside its write lock.

    A checkpoint copies the WAL into the database and syncs both files to disk, which on a busy disk takes
    up to a second; run by the commit, it kept the other page workers waiting for the write lock all that
    time. False (nothing changed) for other databases."""
    if sqlite_file(engine) is None:
        return False

    def no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    event.listen(engine, "connect", no_autocheckpoint)
    return True


def checkpoint(connection: Any) -> None:
    """A PASSIVE WAL checkpoint on a SQLite DBAPI connection: as much as no reader needs, blocking no
    writer."""
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")


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
