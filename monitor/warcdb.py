"""WARC records kept in the database (``CLAIMWATCH_EVIDENCE=database``), for crawls on several machines.

A crawl worker on any machine writes each fetch's records as one row of the ``warc_record`` table: the
very gzip members a WARC file would hold (``monitor.warc.exchange_records``: the ``response`` record and
its ``request`` record, or the ``metadata`` record of a fetch that got no response), so concatenating rows
gives a valid WARC file and an evidence bundle copies them byte for byte. Each worker's first row is a
``warcinfo`` record (software, operator), written in the same transaction as its first fetch's.

The fetch row points at its record as ``warc_path`` ``db:<prefix>`` (``<site>-run<run>-w<worker>``) and
``warc_offset`` the row's id; ``monitor.warc.read_record``/``raw_records`` read it back with a session of
the same database, from any machine, whatever its data folder holds.

Each fetch's row is committed on its own, before the fetch row that points at it (as a file record is
appended before): a fetch row never points at a row that is not there. A row the database refuses (a
full disk, a lost connection, a constraint) raises ``ArchiveWriteError`` (an ``OSError``) having kept
nothing: the crawl records the fetch as an error, "not archived: <why>", exactly as for a failed file write.

>>> archive = DatabaseArchive.open(settings, prefix="shop-run7-w1201", operator="ops@agency.example")  # doctest: +SKIP
>>> archive.write_exchange(exchange)                                                  # doctest: +SKIP
WarcLocation(path='db:shop-run7-w1201', offset=4211)
"""

from __future__ import annotations

import contextlib
import errno
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.db import make_engine
from monitor.models import WarcRecord, utcnow
from monitor.warc import (
    DATABASE_LOCATION,
    ArchiveWriteError,
    HttpExchange,
    WarcLocation,
    error_record,
    exchange_records,
    safe_name,
    warcinfo_record,
)

log = logging.getLogger(__name__)

MAX_REASON = 300  # characters of the database's message kept in a fetch's "not archived: ..." error


def database_location(prefix: str) -> str:
    """The ``warc_path`` of a worker's records in the database: ``db:<prefix>``."""
    return DATABASE_LOCATION + safe_name(prefix)


class DatabaseArchive:
    """An ``ArchiveWriter`` (``monitor.warc.open_archive``) keeping each fetch's records as a row."""

    def __init__(self, engine: Engine, *, prefix: str, operator: str | None = None,
                 own_engine: bool = False) -> None:
        self.engine = engine
        self.prefix = safe_name(prefix)
        self.path = database_location(prefix)
        self.operator = operator
        self.own_engine = own_engine
        self.rows: list[int] = []  # ids of the rows this archive wrote, in order
        self._info_kept = False
        self._connection: Connection | None = None  # held while the archive is open: no checkout per fetch

    @classmethod
    def open(cls, settings: Settings, *, prefix: str, operator: str | None = None,
             engine: Engine | None = None) -> DatabaseArchive:
        """On ``engine``, or on an engine of its own for ``settings.db_url`` (disposed by ``close()``)."""
        if engine is not None:
            return cls(engine, prefix=prefix, operator=operator)
        own = make_engine(settings.db_url, busy_timeout=settings.db_busy_timeout)
        return cls(own, prefix=prefix, operator=operator, own_engine=True)

    def write_exchange(self, exchange: HttpExchange) -> WarcLocation:
        """A fetch's ``response`` and ``request`` records as one row; returns where the response is."""
        return self._keep("response", exchange.url, exchange_records(exchange))

    def write_error(self, url: str, error: str, fetched_at: datetime) -> WarcLocation:
        """The ``metadata`` record of a fetch that got no response, as one row."""
        return self._keep("metadata", url, error_record(url, error, fetched_at))

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                connection.close()
        if self.own_engine:
            self.engine.dispose()

    def __enter__(self) -> DatabaseArchive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _keep(self, record_type: str, target_uri: str, data: bytes) -> WarcLocation:
        rows = []
        if not self._info_kept:
            info = {"description": "claimwatch crawl archive kept in the database: one response and request "
                                   "record per fetch"}
            if self.operator:
                info["operator"] = self.operator
            rows.append(self._row("warcinfo", None, warcinfo_record(self.path, info)))
        rows.append(self._row(record_type, target_uri, data))
        try:
            connection = self._connect()
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    # no WAL flush of its own (~10 ms a fetch): the fetch row that points here commits after
                    # it, and PostgreSQL's WAL is durable in order, so that row is never kept without it
                    connection.execute(text("SET LOCAL synchronous_commit TO OFF"))
                ids = [_row_id(connection.execute(insert(WarcRecord), row).inserted_primary_key) for row in rows]
        except SQLAlchemyError as exc:
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:MAX_REASON]
            raise ArchiveWriteError(errno.EIO, f"the database did not keep the WARC record: {reason}") from exc
        self._info_kept = True
        self.rows.extend(ids)
        return WarcLocation(self.path, ids[-1])

    def _connect(self) -> Connection:
        """The archive's connection, made again when the server dropped it (the next fetch after a failure)."""
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            if self._connection is not None:
                with contextlib.suppress(SQLAlchemyError):
                    self._connection.close()
            self._connection = self.engine.connect()
        return self._connection

    def _row(self, record_type: str, target_uri: str | None, data: bytes) -> dict[str, object]:
        return {"prefix": self.prefix, "record_type": record_type,
                "target_uri": target_uri[:2048] if target_uri is not None else None,
                "written_at": utcnow(), "size": len(data), "data": data}


def _row_id(key: Any) -> int:
    assert key is not None and key[0] is not None
    return int(key[0])


def stored_records(session: Session, warc_path: str, offset: int) -> bytes:
    """The bytes of the row a ``db:`` location names (``ValueError`` when there is none: a row id of
    another worker's records is refused too, so a wrong pointer never reads another fetch's)."""
    row = session.execute(select(WarcRecord.prefix, WarcRecord.data).where(WarcRecord.id == offset)).first()
    if row is None or database_location(row.prefix) != warc_path:
        raise ValueError(f"no WARC record at {warc_path}#{offset}")
    return bytes(row.data)

