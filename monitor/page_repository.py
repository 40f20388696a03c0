"""The page history's rows, read and written with SQLAlchemy Core on the session's connection.

``monitor.store`` reads a page's state here (``PageRecord``, its recent snapshots) and writes back what
``monitor.history`` decided (the page row, a fetch, a body, a snapshot and its statements, events,
changes). Core statements, not ORM objects: a page row is read and written on every fetch, and the ORM's
unit of work would cost more than the rest of an unchanged page's store. Everything runs on
``session.connection()``, inside the caller's transaction; the ORM objects added to the session (events,
changes) are flushed with it.

One part is not plain Core: a new snapshot's ~65 statement rows. Core runs every row of an executemany
through its parameter processing (~15 us a row with its JSON), so ``StatementInsert`` encodes the
rows as the driver takes them ahead of the page's transaction (``monitor.store.prepare_content``) and hands
them to the driver in one ``exec_driver_sql``: docs/benchmarks.md ("Store") has the figures that keep it.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Insert, Select, Table, Update, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from monitor.history import PageEvent, PageRecord, PageState, SnapshotRef
from monitor.models import Body, Change, Event, Fetch, Page, Snapshot, StatementRow, utcnow
from monitor.statements import Statement

# PageRecord field -> page column (the rest have the same name)
_COLUMN = {"snapshot": "current_snapshot_id"}
_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(PageRecord) if f.name != "id")


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


@dataclass(frozen=True, slots=True)
class _Statements:
    """The Core statements every page runs (built once per kind of database; SQLAlchemy compiles and
    caches them)."""

    page_by_url: Select[Any]
    page_insert: Insert
    page_update: Update
    body_insert: Insert  # a body already stored is left as it is
    fetch_insert: Insert
    fetch_insert_id: Insert
    snapshot_insert: Insert
    recent_snapshots: Select[Any]


@functools.cache
def _statements(database: str) -> _Statements:
    pages, fetches, snapshots = _table(Page), _table(Fetch), _table(Snapshot)
    columns = [pages.c[_COLUMN.get(name, name)] for name in _FIELDS]
    upsert = postgresql.insert if database == "postgresql" else sqlite.insert
    body_insert = upsert(Body).on_conflict_do_nothing()
    return _Statements(
        page_by_url=select(pages.c.id, *columns).where(pages.c.site_id == bindparam("site_id"),
                                                       pages.c.url == bindparam("url")),
        page_insert=pages.insert().returning(pages.c.id),
        page_update=pages.update().where(pages.c.id == bindparam("page_id")),
        body_insert=body_insert,
        fetch_insert=fetches.insert(),
        fetch_insert_id=fetches.insert().returning(fetches.c.id),
        snapshot_insert=snapshots.insert().returning(snapshots.c.id),
        recent_snapshots=select(snapshots.c.id, snapshots.c.fingerprint)
        .where(snapshots.c.page_id == bindparam("page_id")).order_by(snapshots.c.id.desc())
        .limit(bindparam("limit")),
    )


_STATEMENT_COLUMNS = ("snapshot_id", "position", "kind", "type", "text", "key", "attributes", "severity", "rule",
                      "matched")


@functools.lru_cache(maxsize=4096)
def _json_list(values: tuple[str, ...]) -> str:
    """A statement's matched phrases as JSON (the same few recur on every page of a site)."""
    return json.dumps(list(values))


class StatementInsert:
    """The statement rows' INSERT for one kind of database and driver, with its rows encoded as that driver
    takes them: JSON as text, in placeholder order (a tuple) or by name (a dict), the snapshot's id filled
    in when it is known (``run``)."""

    __slots__ = ("sql", "names", "positional", "_snapshot_at", "_ordered")

    def __init__(self, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, _table(StatementRow).insert().compile(
            dialect=dialect, column_keys=list(_STATEMENT_COLUMNS)))
        self.sql: str = compiled.string
        self.positional: bool = bool(compiled.positional)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ()) if self.positional else _STATEMENT_COLUMNS
        self._snapshot_at = self.names.index("snapshot_id")
        self._ordered = operator.itemgetter(*self.names)  # a row's values in placeholder order, in one C call

    def encode(self, statements: Sequence[Statement]) -> list[tuple[Any, ...]] | list[dict[str, Any]]:
        """The rows of a snapshot's statements (its id left 0), JSON encoded as SQLAlchemy's JSON type
        encodes it."""
        rows = [
            {"snapshot_id": 0, "position": index, "kind": s.kind, "type": s.type, "text": s.text, "key": s.key,
             "attributes": json.dumps(s.attributes) if s.attributes else "{}", "severity": s.severity,
             "rule": s.rule, "matched": _json_list(tuple(s.matched))}
            for index, s in enumerate(statements)
        ]
        if not self.positional:
            return rows
        return [self._ordered(row) for row in rows]

    def run(self, connection: Connection, rows: Sequence[tuple[Any, ...] | dict[str, Any]], snapshot_id: int) -> None:
        if not rows:
            return
        at = self._snapshot_at
        params: list[Any]
        if self.positional:
            params = [(*row[:at], snapshot_id, *row[at + 1:]) for row in cast(Sequence[tuple[Any, ...]], rows)]
        else:
            params = [{**cast(dict[str, Any], row), "snapshot_id": snapshot_id} for row in rows]
        connection.exec_driver_sql(self.sql, params)


# one per database kind, driver and parameter style, made on first use; keyed by name, not by dialect
# object, since every engine has its own
_INSERTS: dict[tuple[str, str, str], StatementInsert] = {}


def statement_insert(dialect: Dialect) -> StatementInsert:
    """The statement rows' INSERT for a database kind and driver."""
    key = (dialect.name, dialect.driver, str(dialect.paramstyle))
    insert = _INSERTS.get(key)
    if insert is None:
        insert = _INSERTS[key] = StatementInsert(dialect)
    return insert


def _values(page: PageRecord, names: Sequence[str] = _FIELDS) -> dict[str, Any]:
    values = {_COLUMN.get(name, name): getattr(page, name) for name in names}
    if "state" in values:
        values["state"] = values["state"].value
    return values


class PageRepository:
    """One site's pages in the session's transaction."""

    __slots__ = ("session", "site_id", "_connection", "_sql")

    def __init__(self, session: Session, site_id: int) -> None:
        self.session = session
        self.site_id = site_id
        self._connection: Connection | None = None
        self._sql: _Statements | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self.session.connection()
        return self._connection

    @property
    def sql(self) -> _Statements:
        if self._sql is None:
            self._sql = _statements(self.connection.dialect.name)
        return self._sql

    # --- reading -----------------------------------------------------------------------------------------

    def find(self, url: str) -> PageRecord | None:
        row = self.connection.execute(self.sql.page_by_url, {"site_id": self.site_id, "url": url}).first()
        if row is None:
            return None
        values = dict(zip(_FIELDS, row[1:], strict=True))
        values["state"] = PageState(values["state"])
        return PageRecord(id=row[0], **values)

    def recent_snapshots(self, page_id: int, limit: int) -> list[SnapshotRef]:
        """The page's newest ``limit`` snapshots, newest first."""
        rows = self.connection.execute(self.sql.recent_snapshots, {"page_id": page_id, "limit": limit})
        return [SnapshotRef(snapshot_id, fingerprint) for snapshot_id, fingerprint in rows]

    # --- writing -----------------------------------------------------------------------------------------

    def save(self, page: PageRecord, before: PageRecord | None = None) -> PageRecord:
        """Insert a page first seen (``id`` None) or write back the columns that differ from ``before`` (the
        row as read); the page, with its id."""
        if page.id is None:
            values = _values(page)
            values["site_id"] = self.site_id
            return replace(page, id=self.connection.execute(self.sql.page_insert, values).scalar_one())
        changed = [name for name in _FIELDS if before is None or getattr(page, name) != getattr(before, name)]
        if changed:
            values = _values(page, changed)
            values["page_id"] = page.id
            self.connection.execute(self.sql.page_update, values)
        return page

    def add_fetch(self, values: dict[str, Any], *, returning_id: bool = False) -> int | None:
        """A fetch row (``values``: its columns); its id when asked (a snapshot points at it)."""
        if returning_id:
            return int(self.connection.execute(self.sql.fetch_insert_id, values).scalar_one())
        self.connection.execute(self.sql.fetch_insert, values)
        return None

    def add_body(self, sha256: str, size: int, compressed: bytes) -> None:
        """Keep raw bytes (zstd-compressed) once per SHA-256."""
        self.connection.execute(self.sql.body_insert, {"sha256": sha256, "size": size, "compression": "zstd",
                                                       "data": compressed, "created_at": utcnow()})

    def add_snapshot(self, values: dict[str, Any], statements: Sequence[tuple[Any, ...] | dict[str, Any]],
                     insert: StatementInsert) -> int:
        """A snapshot row and its statement rows (``insert.encode``d); the snapshot's id."""
        snapshot_id = int(self.connection.execute(self.sql.snapshot_insert, values).scalar_one())
        insert.run(self.connection, statements, snapshot_id)
        return snapshot_id

    def add_event(self, page_id: int, run_id: int | None, event: PageEvent, at: datetime) -> None:
        self.session.add(Event(page_id=page_id, site_id=self.site_id, run_id=run_id, event=event.kind.value,
                               detail=event.detail, at=at))

    def add_changes(self, changes: Sequence[Change]) -> None:
        self.session.add_all(changes)
