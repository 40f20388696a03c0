"""Storing one fetched page: one transaction per page, the fetch row always, a snapshot only on change.

``store_page`` is the single place where a fetch becomes history: it classifies the fetch (new, changed,
unchanged, not modified, reverted to a recent variant, error, gone, moved, skipped, suspected outage), keeps
the raw body once per SHA-256, creates a snapshot only when the page's content changed, diffs its statements
against the previous snapshot into ``change`` rows, and records page events. Outages never remove
statements: error responses keep the current snapshot, and so does a 200 that looks like an outage (an
empty, maintenance or bot-challenge page, or nearly every statement gone at once: ``monitor.outage``) until
the same content is seen on the confirming crawls.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Insert, Table, bindparam, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from monitor.compression import compress, decompress
from monitor.models import Body, Change, Event, Fetch, Page, Snapshot, StatementRow, utcnow
from monitor.outage import Judgement, OutageRules, OutageState, PageSignals, Step, judge_outage, suspect_outage
from monitor.statements import Finding, Statement

if TYPE_CHECKING:
    from monitor.diff import StatementChange

GONE_STATUSES = frozenset({404, 410})
PERMANENT_REDIRECTS = frozenset({301, 308})


@dataclass(slots=True)
class FetchResult:
    """What the crawler learnt about one URL (plain values; no Scrapy)."""

    site_id: int
    run_id: int | None
    url: str  # canonical URL that was requested
    fetched_at: datetime
    final_url: str | None = None  # canonical URL after redirects
    status: int | None = None
    error: str | None = None
    content_type: str | None = None
    body: bytes | None = None
    sha256: str | None = None
    elapsed_ms: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    redirect_status: int | None = None  # first redirect's status when the request was redirected
    skipped: str | None = None  # why the body was not analysed (non-HTML...)
    warc_path: str | None = None
    warc_offset: int | None = None
    alias_of: str | None = None  # the response names this other URL of the site as its page (rel=canonical)
    offsite_target: str | None = None  # a redirect (or meta refresh) to another host: recorded, never fetched


@dataclass(slots=True)
class FetchRow:
    """The fetch row being recorded: written with one Core INSERT (it is never read back here, and the
    ORM unit of work costs more than the rest of an unchanged page's work)."""

    page_id: int
    run_id: int | None
    fetched_at: datetime
    final_url: str | None
    status: int | None
    error: str | None
    content_type: str | None
    bytes: int | None
    elapsed_ms: int | None
    etag: str | None
    last_modified: str | None
    warc_path: str | None
    warc_offset: int | None
    outcome: str = "new"
    sha256: str | None = None

    def insert(self, session: Session) -> int:
        values = {name: getattr(self, name) for name in self.__slots__}
        driver = _driver(session)
        return driver.insert_id(driver.sql.fetch_insert, values)


@dataclass(slots=True)
class PageContent:
    """What normalisation and extraction made of the body (``statements`` None when not needed).

    ``prepared`` holds a new snapshot's rows made ahead of its transaction (``prepare_content``).
    """

    text: str
    fingerprint: str
    statements: list[Statement] | None = None
    findings: list[Finding] = field(default_factory=list)
    extractor_version: str = ""
    prepared: PreparedRows | None = None


@dataclass(slots=True)
class PreparedRows:
    """A new snapshot's compressed body and text, statements hash and statement parameters (without the
    snapshot's id, unknown until it is inserted), made before the page's transaction."""

    sql: _Sql  # the statements they were bound for (one database kind and driver)
    body_z: bytes | None
    text_z: bytes
    statements_hash: str
    statement_params: list[Any]


@dataclass(slots=True)
class StoreOutcome:
    outcome: str
    page_id: int
    snapshot_id: int | None = None
    changes: int = 0
    events: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoreRules:
    error_threshold: int = 2
    gone_threshold: int = 2
    flap_history: int = 3
    outage: OutageRules = OutageRules()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def statements_hash(statements: Sequence[Statement]) -> str:
    digest = hashlib.sha256()
    for statement in statements:
        digest.update(f"{statement.kind}\t{statement.type}\t{statement.key}\n".encode())
    return digest.hexdigest()


def row_to_statement(row: StatementRow) -> Statement:
    return Statement(
        kind=row.kind, type=row.type, text=row.text, key=row.key, severity=row.severity,
        attributes=dict(row.attributes or {}), position=row.position, rule=row.rule,
        matched=tuple(row.matched or ()),
    )


def snapshot_statements(session: Session, snapshot_id: int) -> list[Statement]:
    rows = session.scalars(
        select(StatementRow).where(StatementRow.snapshot_id == snapshot_id).order_by(StatementRow.position)
    )
    return [row_to_statement(row) for row in rows]


def store_body(session: Session, sha256: str, body: bytes, compressed: bytes | None = None) -> None:
    """Keep the raw bytes once per SHA-256 (an unchanged page costs no new body); ``compressed``: the body
    already compressed (``prepare_content``).

    Run on the DBAPI cursor (``_Driver``), not the ORM: this runs for every new snapshot, and a body is never
    read back here.
    """
    driver = _driver(session)
    if driver.first(driver.sql.body_exists, {"sha256": sha256}) is None:
        driver.execute(driver.sql.body_insert, {"sha256": sha256, "size": len(body), "compression": "zstd",
                                                "data": compressed if compressed is not None else compress(body),
                                                "created_at": utcnow()})


def prepare_content(content: PageContent, body: bytes | None, dialect: Dialect) -> None:
    """Make a new snapshot's rows before the page's transaction: compressing the body and the text and
    encoding ~60 statement rows is most of the CPU a new page's store takes, and claimwatch's writers
    to one SQLite file take turns (``monitor.db.WriteLock``), so none of it should run while holding it.
    Nothing to do for content that needs no snapshot (``statements`` None)."""
    if content.statements is None:
        return
    sql = _sql(dialect)
    content.prepared = PreparedRows(
        sql=sql,
        body_z=compress(body) if body is not None else None,
        text_z=compress(content.text.encode("utf-8")),
        statements_hash=statements_hash(content.statements),
        statement_params=[sql.statement_insert.bind(row) for row in statement_rows(0, content.statements)],
    )


def load_body(session: Session, sha256: str) -> bytes | None:
    body = session.get(Body, sha256)
    if body is None:
        return None
    return decompress(body.data) if body.compression in ("zstd", "zlib") else body.data


_PAGE_COLUMNS = ("id", "site_id", "url", "state", "moved_to", "first_seen", "last_seen", "etag", "last_modified",
                 "last_sha256", "fingerprint", "current_snapshot_id", "failures", "gone_count", "outage_fingerprint",
                 "outage_seen")


@dataclass(slots=True)
class PageRow:
    """A page row as plain values: read and written on the DBAPI cursor (``store_page`` runs on every
    fetch, and the ORM's unit of work cost more than everything else an unchanged page needs)."""

    id: int
    site_id: int
    url: str
    state: str = "active"
    moved_to: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_sha256: str | None = None
    fingerprint: str | None = None
    current_snapshot_id: int | None = None
    failures: int = 0
    gone_count: int = 0
    outage_fingerprint: str | None = None
    outage_seen: int = 0
    saved: tuple[Any, ...] = ()  # the values as last read or written

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _PAGE_COLUMNS)

    def save(self, session: Session) -> None:
        """Write the row back when any column changed since it was read (one prepared UPDATE)."""
        now = self.values()
        if now != self.saved:
            driver = _driver(session)
            driver.execute(driver.sql.page_update,
                           {f"b_{name}": value for name, value in zip(_PAGE_COLUMNS, now, strict=True)})
            self.saved = now


def _page_table() -> Table:
    return cast(Table, Page.__table__)


_MEMO_SIZE = 4096  # encodings remembered per column; a statement's attributes and matched phrases recur


class _Prepared:
    """A Core statement compiled once for one dialect, run straight on the DBAPI cursor.

    ``bind`` turns a dict of values into the driver's parameters (a tuple in the order of the SQL's
    placeholders, or a dict for named styles), through each value's SQLAlchemy bind processor (SQLite's
    datetime text, JSON...); ``row`` does the same with the result processors of a SELECT's columns.
    The processed values of the ``memo`` columns (JSON lists and dicts that recur from page to page, such
    as every statement's attributes) are remembered, up to ``_MEMO_SIZE`` each.
    """

    __slots__ = ("sql", "names", "positional", "processors", "results", "_get", "_steps")

    def __init__(self, statement: ClauseElement, dialect: Dialect, keys: Sequence[str] | None = None,
                 memo: Sequence[str] = ()) -> None:
        compiled = cast(SQLCompiler, statement.compile(
            dialect=dialect, column_keys=list(keys) if keys is not None else None))
        self.sql: str = compiled.string
        self.positional: bool = bool(compiled.positional)
        binds = compiled.binds
        names = compiled.positiontup if compiled.positional else list(binds)
        self.names: tuple[str, ...] = tuple(names or ())
        self.processors: tuple[tuple[str, Callable[[Any], Any]], ...] = tuple(
            (name, processor) for name in self.names
            if (processor := binds[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
        )
        # positional: the values in placeholder order in one C call, then (index, processor, memo) steps
        self._get = operator.itemgetter(*self.names) if len(self.names) > 1 else None
        self._steps: tuple[tuple[int, Callable[[Any], Any], dict[str, Any] | None], ...] = tuple(
            (self.names.index(name), processor, {} if name in memo else None)
            for name, processor in self.processors
        )
        columns = getattr(statement, "selected_columns", ())
        self.results: tuple[Callable[[Any], Any] | None, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )

    def with_value(self, rows: Sequence[tuple[Any, ...] | dict[str, Any]], name: str,
                   value: Any) -> list[tuple[Any, ...] | dict[str, Any]]:
        """Rows of parameters made by ``bind``, with the value of ``name`` replaced (through its bind
        processor) in each."""
        for processed, processor in self.processors:
            if processed == name:
                value = processor(value)
        if not self.positional:
            return [{**cast(dict[str, Any], row), name: value} for row in rows]
        index = self.names.index(name)
        tuples = cast(Sequence[tuple[Any, ...]], rows)
        if index == 0:
            return [(value, *row[1:]) for row in tuples]
        return [(*row[:index], value, *row[index + 1:]) for row in tuples]

    def bind(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        if self.positional and self._get is not None:
            row = self._get(values)
            if not self._steps:
                return cast(tuple[Any, ...], row)
            items = list(row)
            for index, processor, memo in self._steps:
                items[index] = _processed(processor, memo, items[index])
            return tuple(items)
        if self.processors:
            values = dict(values)
            for name, processor in self.processors:
                values[name] = processor(values[name])
        if self.positional:
            return tuple(values[name] for name in self.names)
        return {name: values[name] for name in self.names}

    def row(self, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(value if process is None or value is None else process(value)
                     for process, value in zip(self.results, row, strict=True))


def _processed(processor: Callable[[Any], Any], memo: dict[str, Any] | None, value: Any) -> Any:
    """``processor(value)``, remembered in ``memo`` by the value's ``repr`` (for the plain data of JSON
    columns it tells apart exactly what encodes differently: ``1``, ``1.0``, ``True`` and ``"1"``)."""
    if memo is None:
        return processor(value)
    key = repr(value)
    try:
        return memo[key]
    except KeyError:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        result = memo[key] = processor(value)
        return result


@dataclass(frozen=True, slots=True)
class _Sql:
    """The hot path's statements (built and compiled once per dialect): every page runs them, and Core's
    execution machinery costs several times what SQLite takes to run each (docs/benchmarks.md)."""

    page_by_url: _Prepared
    page_insert: _Prepared
    page_update: _Prepared
    body_exists: _Prepared
    body_insert: _Prepared
    fetch_insert: _Prepared
    snapshot_insert: _Prepared
    statement_insert: _Prepared


_FETCH_COLUMNS = ("page_id", "run_id", "fetched_at", "final_url", "status", "error", "content_type", "bytes",
                  "elapsed_ms", "etag", "last_modified", "warc_path", "warc_offset", "outcome", "sha256")
_SNAPSHOT_COLUMNS = ("page_id", "fetch_id", "created_at", "fingerprint", "statements_hash", "text_z",
                     "extractor_version", "screenshot_sha256", "findings")
_STATEMENT_COLUMNS = ("snapshot_id", "position", "kind", "type", "text", "key", "attributes", "severity", "rule",
                      "matched")
_BODY_COLUMNS = ("sha256", "size", "compression", "data", "created_at")


# one compilation per database kind and driver ("sqlite+pysqlite"), filled on first use; keyed by name, not
# by dialect object, since every engine has its own
_COMPILED: dict[str, _Sql] = {}


def _sql(dialect: Dialect) -> _Sql:
    key = f"{dialect.name}+{dialect.driver}"
    if key not in _COMPILED:
        _COMPILED[key] = _compile(dialect)
    return _COMPILED[key]


def _compile(dialect: Dialect) -> _Sql:
    pages, bodies = _page_table(), cast(Table, Body.__table__)
    fetches, snapshots = cast(Table, Fetch.__table__), cast(Table, Snapshot.__table__)
    mutable = _PAGE_COLUMNS[3:]  # everything but id, site and URL
    return _Sql(
        page_by_url=_Prepared(select(*(pages.c[name] for name in _PAGE_COLUMNS))
                              .where(pages.c.site_id == bindparam("site_id"), pages.c.url == bindparam("url")),
                              dialect),
        page_insert=_Prepared(pages.insert().returning(pages.c.id), dialect, _PAGE_COLUMNS[1:]),
        page_update=_Prepared(pages.update().where(pages.c.id == bindparam("b_id"))
                              .values({name: bindparam(f"b_{name}") for name in mutable}), dialect),
        body_exists=_Prepared(select(bodies.c.sha256).where(bodies.c.sha256 == bindparam("sha256")), dialect),
        body_insert=_Prepared(bodies.insert(), dialect, _BODY_COLUMNS),
        fetch_insert=_Prepared(fetches.insert().returning(fetches.c.id), dialect, _FETCH_COLUMNS),
        snapshot_insert=_Prepared(snapshots.insert().returning(snapshots.c.id), dialect, _SNAPSHOT_COLUMNS),
        statement_insert=_Prepared(insert_statements(), dialect, _STATEMENT_COLUMNS,
                                   memo=("attributes", "matched")),
    )


class _Driver:
    """The hot path's statements on the DBAPI cursor of the session's connection: the same transaction
    as the session's ORM work (events, changes), without Core's per-statement execution machinery."""

    __slots__ = ("sql", "cursor")

    def __init__(self, sql: _Sql, cursor: Any) -> None:
        self.sql = sql
        self.cursor = cursor

    def execute(self, statement: _Prepared, values: Mapping[str, Any]) -> None:
        self.cursor.execute(statement.sql, statement.bind(values))

    def executemany(self, statement: _Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        self.cursor.executemany(statement.sql, [statement.bind(values) for values in rows])

    def first(self, statement: _Prepared, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        self.cursor.execute(statement.sql, statement.bind(values))
        rows = self.cursor.fetchall()  # read to the end: SQLite cannot commit under an unfinished statement
        return statement.row(rows[0]) if rows else None

    def insert_id(self, statement: _Prepared, values: Mapping[str, Any]) -> int:
        """An INSERT ... RETURNING id."""
        self.cursor.execute(statement.sql, statement.bind(values))
        return int(self.cursor.fetchall()[0][0])


_DRIVER_KEY = "claimwatch.store.driver"


def _driver(session: Session) -> _Driver:
    """The driver of the session's current connection (kept in the connection's ``info``, which lives as
    long as the DBAPI connection: SQLAlchemy clears it when the connection is closed or invalidated)."""
    connection = session.connection()
    driver = connection.info.get(_DRIVER_KEY)
    if driver is None:
        dialect = connection.dialect
        driver = connection.info[_DRIVER_KEY] = _Driver(_sql(dialect), connection.connection.cursor())
    return cast(_Driver, driver)


def _load_page(session: Session, site_id: int, url: str) -> PageRow | None:
    driver = _driver(session)
    row = driver.first(driver.sql.page_by_url, {"site_id": site_id, "url": url})
    if row is None:
        return None
    page = PageRow(*row)
    page.saved = row
    return page


def _page(session: Session, site_id: int, url: str, seen_at: datetime) -> tuple[PageRow, bool]:
    page = _load_page(session, site_id, url)
    if page is not None:
        return page, False
    page = PageRow(0, site_id, url, first_seen=seen_at, last_seen=seen_at)
    values = {name: getattr(page, name) for name in _PAGE_COLUMNS[1:]}
    driver = _driver(session)
    page.id = driver.insert_id(driver.sql.page_insert, values)
    page.saved = page.values()
    return page, True


class _PageKeys(Protocol):
    id: int
    site_id: int


def _event(session: Session, page: _PageKeys, run_id: int | None, kind: str, detail: str, at: datetime) -> None:
    session.add(Event(page_id=page.id, site_id=page.site_id, run_id=run_id, event=kind, detail=detail, at=at))


def change_row(page: _PageKeys, run_id: int | None, before_id: int | None, after_id: int,
                change: StatementChange, at: datetime) -> Change:
    return Change(
        page_id=page.id, site_id=page.site_id, run_id=run_id, before_snapshot_id=before_id,
        after_snapshot_id=after_id, change=change.change, kind=change.kind, type=change.type,
        before_type=change.before_type, before=change.before, after=change.after, severity=change.severity,
        delta=dict(change.delta), inline=[list(part) for part in change.inline], detected_at=at,
    )


def _recent_snapshots(session: Session, page_id: int, limit: int) -> list[Snapshot]:
    return list(session.scalars(
        select(Snapshot).where(Snapshot.page_id == page_id).order_by(Snapshot.id.desc()).limit(limit)
    ))


def _remember_response(page: PageRow, result: FetchResult, sha: str) -> None:
    """The validators and SHA-256 the next crawl compares with (never those of a suspected outage). A
    response without validators clears the old ones: they name another version, and a 304 to them would
    say that version is still there."""
    page.etag, page.last_modified = result.etag, result.last_modified
    page.last_sha256 = sha


def _outage_state(page: PageRow) -> OutageState:
    return OutageState(page.outage_fingerprint, page.outage_seen,
                       confirmed=page.outage_fingerprint is not None and page.outage_fingerprint == page.fingerprint)


def _judge_outage(body: bytes, content: PageContent, before: Sequence[Statement] | None, state: OutageState,
                  rules: OutageRules) -> Judgement:
    """The outage step of a fetch whose content differs from the page's current snapshot."""
    suspicion = None
    if rules.enabled and content.statements is not None:
        signals = PageSignals(body, content.text,
                              frozenset(s.key for s in before) if before is not None else None,
                              frozenset(s.key for s in content.statements))
        suspicion = suspect_outage(signals, rules)
    return judge_outage(state, suspicion, content.fingerprint, rules)


def _settle_outage(session: Session, page: PageRow, run_id: int | None, at: datetime, events: list[str],
                   judgement: Judgement) -> None:
    page.outage_fingerprint, page.outage_seen = judgement.state.fingerprint, judgement.state.seen
    if judgement.event is not None:
        _event(session, page, run_id, judgement.event, judgement.detail, at)
        events.append(judgement.event)


def _follow_move(session: Session, result: FetchResult, page: PageRow, at: datetime, to: str,
                 why: str = "") -> PageRow:
    """A permanent redirect (or an alias): the old page is marked moved, its history continues under ``to``."""
    target, created = _page(session, page.site_id, to, at)
    page.state = "moved"
    page.moved_to = to
    _event(session, page, result.run_id, "moved", f"{page.url} -> {to}{why}", at)
    if created or target.current_snapshot_id is None:
        target.current_snapshot_id = page.current_snapshot_id
        target.fingerprint = page.fingerprint
        target.last_sha256 = page.last_sha256
        target.first_seen = page.first_seen
    return target


def store_page(
    session: Session,
    result: FetchResult,
    content: PageContent | None,
    rules: StoreRules = StoreRules(),
    *,
    report_new_pages: bool = False,
) -> StoreOutcome:
    """Record one fetch and whatever follows from it, inside the caller's transaction.

    ``content`` is None when the body was not analysed (errors, 304, non-HTML, unchanged body).
    ``report_new_pages``: a page first seen after the site's baseline crawl reports its statements
    as added; on the baseline crawl a new page is simply the starting point.
    """
    touched: list[PageRow] = []
    outcome = _store_page(session, result, content, rules, report_new_pages, touched)
    for page in touched:
        page.save(session)
    return outcome


def _store_page(
    session: Session,
    result: FetchResult,
    content: PageContent | None,
    rules: StoreRules,
    report_new_pages: bool,
    touched: list[PageRow],
) -> StoreOutcome:
    if result.alias_of is not None:
        return _store_alias(session, result, result.alias_of, touched)
    if result.offsite_target is not None:
        return _store_offsite(session, result, result.offsite_target, touched)
    at = result.fetched_at
    events: list[str] = []
    moved = (
        result.redirect_status in PERMANENT_REDIRECTS
        and result.final_url is not None
        and result.final_url != result.url
        and result.status is not None
        and result.status < 400
    )
    if moved:
        assert result.final_url is not None
        known = _load_page(session, result.site_id, result.url)
        if known is not None and known.state != "moved":
            touched.append(known)
            page, created = _follow_move(session, result, known, at, result.final_url), False
            events.append("moved")
        else:  # a URL we never stored (or already know as moved): store under its new address
            page, created = _page(session, result.site_id, result.final_url, at)
    else:
        page, created = _page(session, result.site_id, result.url, at)
    touched.append(page)
    fetch = FetchRow(
        page_id=page.id, run_id=result.run_id, fetched_at=at, final_url=result.final_url, status=result.status,
        error=result.error, content_type=result.content_type, bytes=len(result.body) if result.body else None,
        elapsed_ms=result.elapsed_ms, etag=result.etag, last_modified=result.last_modified,
        warc_path=result.warc_path, warc_offset=result.warc_offset,
    )
    gone = result.status in GONE_STATUSES
    failed = result.error is not None or result.status is None or (result.status >= 400 and not gone)
    if failed:
        fetch.outcome = "error"
        page.failures += 1
        if page.failures == rules.error_threshold:
            page.state = "error"
            detail = result.error or f"HTTP {result.status}"
            _event(session, page, result.run_id, "error",
                   f"{detail} ({page.failures} consecutive failed fetches)", at)
            events.append("error")
        fetch.insert(session)
        return StoreOutcome("error", page.id, events=tuple(events))

    if gone:
        fetch.outcome = "error"
        page.gone_count += 1
        page.failures = 0
        if page.gone_count == rules.gone_threshold and page.state != "gone":
            page.state = "gone"
            _event(session, page, result.run_id, "gone",
                   f"HTTP {result.status} on {page.gone_count} consecutive crawls", at)
            events.append("gone")
        fetch.insert(session)
        return StoreOutcome("gone", page.id, events=tuple(events))

    if page.state in {"error", "gone"}:
        _event(session, page, result.run_id, "recovered", f"HTTP {result.status} after {page.state}", at)
        events.append("recovered")
    if page.state != "moved":
        page.state = "active"
    checked, page.last_seen = page.last_seen, at  # the last time the page answered
    page.failures = 0
    page.gone_count = 0

    outage = _outage_state(page)
    if result.not_modified:
        _settle_outage(session, page, result.run_id, at, events,
                       judge_outage(outage, None, page.fingerprint or "", rules.outage))
        fetch.outcome = "not_modified"
        fetch.sha256 = page.last_sha256
        fetch.insert(session)
        return StoreOutcome("not_modified", page.id, page.current_snapshot_id, events=tuple(events))

    if result.skipped is not None or result.body is None:
        fetch.outcome = "skipped"
        fetch.error = result.skipped
        fetch.insert(session)
        return StoreOutcome("skipped", page.id, page.current_snapshot_id, events=tuple(events))

    # the fetch records the SHA-256 of the bytes received; the bytes themselves are kept (once per
    # SHA-256) only with a new snapshot: a page that only differs by noise costs no body
    sha = result.sha256 or sha256_hex(result.body)
    fetch.sha256 = sha
    if content is None or (content.fingerprint == page.fingerprint and page.current_snapshot_id is not None):
        _remember_response(page, result, sha)
        _settle_outage(session, page, result.run_id, at, events,
                       judge_outage(outage, None, page.fingerprint or "", rules.outage))
        fetch.outcome = "unchanged"
        fetch.insert(session)
        return StoreOutcome("unchanged", page.id, page.current_snapshot_id, events=tuple(events))

    previous = session.get(Snapshot, page.current_snapshot_id) if page.current_snapshot_id else None
    before = snapshot_statements(session, previous.id) if previous is not None else None
    judgement = _judge_outage(result.body, content, before, outage, rules.outage)
    _settle_outage(session, page, result.run_id, at, events, judgement)
    if judgement.step is Step.HOLD:
        # the current snapshot stays, and so do the validators and SHA-256 the next crawl compares with, and
        # the time its statements were last seen
        page.last_seen = checked
        fetch.outcome = "suspected_outage"
        fetch.insert(session)
        return StoreOutcome("suspected_outage", page.id, page.current_snapshot_id, events=tuple(events))
    _remember_response(page, result, sha)

    history = _recent_snapshots(session, page.id, rules.flap_history + 1) if not created else []
    # A confirmed outage is stored as a version of its own, and the page's return is compared with it as
    # it is: no flip back to an earlier variant, no anti-flap history (the removals were reported, so what
    # comes back is reported too).
    flips = judgement.step is Step.STORE and not outage.confirmed
    for old in history if flips else ():
        if old.fingerprint == content.fingerprint and (previous is None or old.id != previous.id):
            # the page flipped back to a variant seen recently (A/B test): no new snapshot, no changes
            page.current_snapshot_id = old.id
            page.fingerprint = old.fingerprint
            fetch.outcome = "reverted"
            fetch.insert(session)
            return StoreOutcome("reverted", page.id, old.id, events=tuple(events))

    if content.statements is None:
        raise ValueError("content changed but no statements were extracted")
    driver = _driver(session)
    prepared = content.prepared
    if prepared is not None and prepared.sql is not driver.sql:
        prepared = None  # made for another database
    store_body(session, sha, result.body, prepared.body_z if prepared is not None else None)
    fetch.outcome = "new" if previous is None else "changed"
    fetch_id = fetch.insert(session)
    snapshot_id = driver.insert_id(driver.sql.snapshot_insert, {
        "page_id": page.id, "fetch_id": fetch_id, "created_at": at, "fingerprint": content.fingerprint,
        "statements_hash": prepared.statements_hash if prepared is not None else statements_hash(content.statements),
        "text_z": prepared.text_z if prepared is not None else compress(content.text.encode("utf-8")),
        "extractor_version": content.extractor_version, "screenshot_sha256": None,
        "findings": [finding_dict(finding) for finding in content.findings],
    })
    if content.statements:
        insert = driver.sql.statement_insert
        if prepared is not None:
            driver.cursor.executemany(insert.sql, insert.with_value(prepared.statement_params, "snapshot_id",
                                                                    snapshot_id))
        else:
            driver.executemany(insert, statement_rows(snapshot_id, content.statements))

    changes: list[StatementChange] = []
    if previous is not None or (created and report_new_pages):
        # only here is the diff needed (with rapidfuzz): a first crawl's page workers never load it
        from monitor.diff import diff_statements

        if previous is not None:
            assert before is not None
            older = [] if outage.confirmed else [snapshot_statements(session, old.id) for old in history
                                                 if old.id != previous.id]
            changes = diff_statements(before, content.statements, history=older[: rules.flap_history])
        else:
            changes = diff_statements([], content.statements)
    for change in changes:
        session.add(change_row(page, result.run_id, previous.id if previous else None, snapshot_id, change, at))
    page.current_snapshot_id = snapshot_id
    page.fingerprint = content.fingerprint
    return StoreOutcome(fetch.outcome, page.id, snapshot_id, len(changes), tuple(events))


def _store_alias(session: Session, result: FetchResult, canonical: str, touched: list[PageRow]) -> StoreOutcome:
    """A response that names another URL of the site as its page: the page is that URL, fetched as itself.

    The fetch is recorded (outcome ``alias``) on the alias's own row, which points at the page (state
    ``moved``); a row that had a history of its own is moved there like a permanent redirect (an event;
    the page takes the history when it has none yet). Nothing about the page itself changes.
    """
    at = result.fetched_at
    events: tuple[str, ...] = ()
    alias, created = _page(session, result.site_id, result.url, at)
    touched.append(alias)
    if not created and alias.state != "moved":
        touched.append(_follow_move(session, result, alias, at, canonical, " (its canonical URL)"))
        events = ("moved",)
    alias.state, alias.moved_to = "moved", canonical
    FetchRow(page_id=alias.id, run_id=result.run_id, fetched_at=at, final_url=result.final_url,
             status=result.status, error=result.error, content_type=result.content_type,
             bytes=len(result.body) if result.body else None, elapsed_ms=result.elapsed_ms, etag=result.etag,
             last_modified=result.last_modified, warc_path=result.warc_path, warc_offset=result.warc_offset,
             outcome="error" if result.error else "alias",  # (an error: its response could not be archived)
             sha256=result.sha256 or (sha256_hex(result.body) if result.body else None)).insert(session)
    return StoreOutcome("alias", alias.id, events=events)


def _store_offsite(session: Session, result: FetchResult, target: str, touched: list[PageRow]) -> StoreOutcome:
    """A page that sent the crawler to another host (a redirect or a meta refresh): the target is never
    fetched and never becomes a page (monitor/hosts.py). The fetch is recorded (outcome ``moved``, the
    redirecting response archived); the page is marked moved there with a ``moved`` event naming the target,
    once per target. Its current snapshot stays as it was."""
    at = result.fetched_at
    page, _ = _page(session, result.site_id, result.url, at)
    touched.append(page)
    events: tuple[str, ...] = ()
    if page.state != "moved" or page.moved_to != target:
        page.state, page.moved_to = "moved", target
        _event(session, page, result.run_id, "moved", f"{page.url} -> {target} (another host: not followed)", at)
        events = ("moved",)
    FetchRow(page_id=page.id, run_id=result.run_id, fetched_at=at, final_url=result.final_url,
             status=result.status, error=None, content_type=result.content_type,
             bytes=len(result.body) if result.body else None, elapsed_ms=result.elapsed_ms, etag=None,
             last_modified=None, warc_path=result.warc_path, warc_offset=result.warc_offset, outcome="moved",
             sha256=result.sha256 or (sha256_hex(result.body) if result.body else None)).insert(session)
    return StoreOutcome("moved", page.id, events=events)


def insert_statements() -> Insert:
    """A Core INSERT for statement rows: one executemany per snapshot."""
    return cast(Table, StatementRow.__table__).insert()


def statement_rows(snapshot_id: int, statements: Sequence[Statement]) -> list[dict[str, Any]]:
    """Rows for one bulk INSERT (an executemany, far cheaper than one ORM object per statement)."""
    return [
        {"snapshot_id": snapshot_id, "position": index, "kind": s.kind, "type": s.type, "text": s.text,
         "key": s.key, "attributes": dict(s.attributes), "severity": s.severity, "rule": s.rule,
         "matched": list(s.matched)}
        for index, s in enumerate(statements)
    ]


def finding_dict(finding: Finding) -> dict[str, Any]:
    return {"code": finding.code, "severity": finding.severity, "detail": finding.detail,
            "positions": list(finding.positions)}
