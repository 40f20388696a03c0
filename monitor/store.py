"""Storing one fetched page: one transaction per page, the fetch row always, a snapshot only on change.

``store_page`` is the single entry from a fetch to history, in three steps: gather the page's state
(``monitor.page_repository``), let ``monitor.history.decide`` say what happened (new, changed, unchanged,
not modified, reverted to a recent variant, error, gone, moved, alias, skipped, suspected outage; events;
the snapshot to keep, point back at or create), and apply that decision: the fetch row, the raw body once
per SHA-256 with a new snapshot, the snapshot and its statements, the statement-level diff against the
previous snapshot as ``change`` rows, and the page's events. No rule lives here: they are all in
``monitor.history``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Insert, Table, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from monitor import history
from monitor.compression import compress, decompress
from monitor.history import (
    Comparison,
    Content,
    Decision,
    Observation,
    Outcome,
    PageRecord,
    Response,
    SnapshotStep,
)
from monitor.history import HistoryRules as StoreRules  # the name the pipelines and settings use
from monitor.models import Body, Change, StatementRow
from monitor.outage import PageSignals
from monitor.page_repository import PageRepository, StatementInsert, statement_insert
from monitor.statements import Finding, Statement

if TYPE_CHECKING:
    from monitor.diff import StatementChange

__all__ = [
    "FetchResult", "PageContent", "PreparedRows", "StoreOutcome", "StoreRules", "store_page", "prepare_content",
    "sha256_hex", "statements_hash", "load_body", "store_body", "snapshot_statements", "row_to_statement",
    "statement_rows", "insert_statements", "change_row", "finding_dict",
]


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
    """A new snapshot's compressed body and text, statements hash and statement rows (encoded for ``insert``'s
    database and driver, without the snapshot's id, unknown until it is inserted), made before the page's
    transaction."""

    insert: StatementInsert | None  # None: rows not encoded yet (no database named)
    body_z: bytes | None
    text_z: bytes
    statements_hash: str
    statement_rows: list[Any]


@dataclass(slots=True)
class StoreOutcome:
    outcome: str  # a monitor.history.Outcome value
    page_id: int
    snapshot_id: int | None = None
    changes: int = 0
    events: tuple[str, ...] = ()


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
    already compressed (``prepare_content``)."""
    PageRepository(session, 0).add_body(sha256, len(body), compressed if compressed is not None else compress(body))


def prepare_content(content: PageContent, body: bytes | None, dialect: Dialect | None = None) -> None:
    """Make a new snapshot's rows before the page's transaction: compressing the body and the text and
    encoding ~60 statement rows (for ``dialect``'s database and driver) is most of the CPU a new page's
    store takes, and claimwatch's writers to one SQLite file take turns (``monitor.db.WriteLock``), so none
    of it should run while holding it. Nothing to do for content that needs no snapshot (``statements``
    None)."""
    if content.statements is None:
        return
    insert = statement_insert(dialect) if dialect is not None else None
    content.prepared = PreparedRows(
        insert=insert,
        body_z=compress(body) if body is not None else None,
        text_z=compress(content.text.encode("utf-8")),
        statements_hash=statements_hash(content.statements),
        statement_rows=list(insert.encode(content.statements)) if insert is not None else [],
    )


def load_body(session: Session, sha256: str) -> bytes | None:
    body = session.get(Body, sha256)
    if body is None:
        return None
    return decompress(body.data) if body.compression in ("zstd", "zlib") else body.data


class _HasPageKeys(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def site_id(self) -> int: ...


def change_row(page: _HasPageKeys, run_id: int | None, before_id: int | None, after_id: int,
               change: StatementChange, at: datetime) -> Change:
    return Change(
        page_id=page.id, site_id=page.site_id, run_id=run_id, before_snapshot_id=before_id,
        after_snapshot_id=after_id, change=change.change, kind=change.kind, type=change.type,
        before_type=change.before_type, before=change.before, after=change.after, severity=change.severity,
        delta=dict(change.delta), inline=[list(part) for part in change.inline], detected_at=at,
    )


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


# --- store_page: gather, decide, apply -----------------------------------------------------------------------

# outcomes whose fetch did not concern the page's snapshot (StoreOutcome.snapshot_id None)
_WITHOUT_SNAPSHOT = frozenset({Outcome.ERROR, Outcome.GONE, Outcome.ALIAS, Outcome.MOVED})
_DEFAULT_RULES = StoreRules()


def store_page(
    session: Session,
    result: FetchResult,
    content: PageContent | None,
    rules: StoreRules = _DEFAULT_RULES,
    *,
    report_new_pages: bool = False,
) -> StoreOutcome:
    """Record one fetch and whatever follows from it, inside the caller's transaction.

    ``content`` is None when the body was not analysed (errors, 304, non-HTML, unchanged body).
    ``report_new_pages``: a page first seen after the site's baseline crawl reports its statements
    as added; on the baseline crawl a new page is simply the starting point.
    """
    repo = PageRepository(session, result.site_id)
    at = result.fetched_at
    requested = repo.find(result.url)
    way = history.route(url=result.url, final_url=result.final_url, status=result.status,
                        redirect_status=result.redirect_status, alias_of=result.alias_of, requested=requested,
                        offsite=result.offsite_target is not None)
    events: list[str] = []
    read: PageRecord | None  # the row of the page the fetch is decided for, as read (None: none yet)
    if way.moves_to is not None:
        assert requested is not None and requested.id is not None
        target = repo.find(way.moves_to)
        move = history.move(requested, target, way.moves_to, at, way.why)
        repo.add_event(requested.id, result.run_id, move.event, at)
        events.append(move.event.kind.value)
        if way.url == way.moves_to:  # a permanent redirect: the fetch belongs to the page at the new URL
            repo.save(move.source, requested)
            page, read = move.target, target
        else:  # an alias: its own row records the fetch, the page it names takes the history
            repo.save(move.target, target)
            page, read = move.source, requested
    else:
        read = requested if way.url == result.url else repo.find(way.url)
        page = read or PageRecord(way.url, first_seen=at, last_seen=at)
    seen, current = _observe(repo, result, content, page, rules)
    decision = history.decide(page, seen, rules, report_new_pages=report_new_pages)
    return _apply(repo, result, content, decision, read, current, events)


def _observe(repo: PageRepository, result: FetchResult, content: PageContent | None, page: PageRecord,
             rules: StoreRules) -> tuple[Observation, list[Statement] | None]:
    """The fetch as ``history.decide`` sees it: what came back and, for an answer to analyse, its content
    against the page's snapshots (read only when it is not the current snapshot's); with the current
    snapshot's statements when they were read."""
    response = history.classify_response(
        status=result.status, error=result.error, not_modified=result.not_modified,
        analysed=result.skipped is None and result.body is not None, alias=result.alias_of is not None,
        offsite=result.offsite_target is not None)
    sha = result.sha256 or (sha256_hex(result.body) if result.body is not None else None)
    seen = Observation(response, result.fetched_at, status=result.status,
                       error=result.skipped if response is Response.SKIPPED else result.error, sha256=sha,
                       etag=result.etag, last_modified=result.last_modified,
                       target=result.alias_of or result.offsite_target)
    fingerprint = content.fingerprint if content is not None else None
    if response is not Response.OK or history.compare_content(page, fingerprint)[0] is Content.SAME:
        return seen, None
    assert content is not None and result.body is not None
    recent = repo.recent_snapshots(page.id, rules.flap_history + 1) if page.id is not None else []
    kind, earlier = history.compare_content(page, fingerprint, recent)
    current = signals = None
    if content.statements is not None:
        current = snapshot_statements(repo.session, page.snapshot) if page.snapshot is not None else None
        signals = PageSignals(result.body, content.text,
                              frozenset(s.key for s in current) if current is not None else None,
                              frozenset(s.key for s in content.statements))
    return replace(seen, content=kind, fingerprint=fingerprint, earlier=earlier, signals=signals,
                   recent=tuple(old.id for old in recent if old.id != page.snapshot)), current


@dataclass(frozen=True, slots=True)
class _PageKeys:
    id: int
    site_id: int


def _apply(repo: PageRepository, result: FetchResult, content: PageContent | None, decision: Decision,
           read: PageRecord | None, current: list[Statement] | None, events: list[str]) -> StoreOutcome:
    """Write what ``history.decide`` decided: the page row, the fetch, a new snapshot and its changes, the
    events."""
    at = result.fetched_at
    create = decision.snapshot is SnapshotStep.CREATE
    if create and (content is None or content.statements is None):
        raise ValueError("content changed but no statements were extracted")
    page = decision.page
    if page.id is None or not create:  # (a changed page's row is written once, with its new snapshot)
        page = repo.save(page, read)
        read = page
    assert page.id is not None
    page_id = page.id
    offsite = decision.fetch_outcome is Outcome.MOVED  # a redirect to another host: its validators mean nothing
    fetch_id = repo.add_fetch({
        "page_id": page_id, "run_id": result.run_id, "fetched_at": at, "final_url": result.final_url,
        "status": result.status, "error": decision.fetch_error, "content_type": result.content_type,
        "bytes": len(result.body) if result.body else None, "elapsed_ms": result.elapsed_ms,
        "etag": None if offsite else result.etag, "last_modified": None if offsite else result.last_modified,
        "warc_path": result.warc_path, "warc_offset": result.warc_offset,
        "outcome": decision.fetch_outcome.value, "sha256": decision.fetch_sha256,
    }, returning_id=create)
    snapshot_id, changes = page.snapshot, 0
    if create:
        assert content is not None and fetch_id is not None
        snapshot_id = _add_snapshot(repo, result, content, fetch_id, page_id)
        repo.save(replace(page, snapshot=snapshot_id), read)
        if decision.compare is not None:
            changes = _add_changes(repo, result, content, decision.compare, current,
                                   _PageKeys(page_id, repo.site_id), snapshot_id)
    for event in decision.events:
        repo.add_event(page_id, result.run_id, event, at)
        events.append(event.kind.value)
    return StoreOutcome(decision.outcome.value, page_id,
                        None if decision.outcome in _WITHOUT_SNAPSHOT else snapshot_id, changes, tuple(events))


def _add_snapshot(repo: PageRepository, result: FetchResult, content: PageContent, fetch_id: int,
                  page_id: int) -> int:
    """The new snapshot: the raw body (once per SHA-256), the snapshot row and its statements."""
    assert content.statements is not None and result.body is not None
    insert = statement_insert(repo.connection.dialect)
    prepared = content.prepared
    if prepared is None or prepared.insert is not insert:  # not prepared, or for another database
        prepare_content(content, result.body, repo.connection.dialect)
        prepared = content.prepared
        assert prepared is not None
    sha = result.sha256 or sha256_hex(result.body)
    repo.add_body(sha, len(result.body), prepared.body_z if prepared.body_z is not None else compress(result.body))
    return repo.add_snapshot({
        "page_id": page_id, "fetch_id": fetch_id, "created_at": result.fetched_at, "fingerprint": content.fingerprint,
        "statements_hash": prepared.statements_hash, "text_z": prepared.text_z,
        "extractor_version": content.extractor_version, "screenshot_sha256": None,
        "findings": [finding_dict(finding) for finding in content.findings],
    }, prepared.statement_rows, insert)


def _add_changes(repo: PageRepository, result: FetchResult, content: PageContent, compare: Comparison,
                 current: list[Statement] | None, page: _PageKeys, snapshot_id: int) -> int:
    """The statement-level diff of the new snapshot against ``compare`` as change rows; how many
    (``current``: the statements of ``compare.before`` when already read)."""
    # only here is the diff needed (with rapidfuzz): a first crawl's page workers never load it
    from monitor.diff import diff_statements

    assert content.statements is not None
    if compare.before is None:
        diffs = diff_statements([], content.statements)
    else:
        if current is None:
            current = snapshot_statements(repo.session, compare.before)
        older = [snapshot_statements(repo.session, snapshot) for snapshot in compare.older]
        diffs = diff_statements(current, content.statements, history=older)
    repo.add_changes([change_row(page, result.run_id, compare.before, snapshot_id, diff, result.fetched_at)
                      for diff in diffs])
    return len(diffs)
