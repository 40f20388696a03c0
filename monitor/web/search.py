"""Search every stored statement, current and historical, by words, kind/type, seller and dates (SQLite
FTS5 or PostgreSQL full-text search; both stem English words, so "cures" finds "cure"). Flask-free.

One result per page and statement text: when it first and last appeared in a snapshot, in how many
snapshots, and whether the page says it now ("every page that ever claimed to cure arthritis, and when
it first appeared").

>>> search_statements(session, "sqlite", SearchQuery(text="cure arthritis"))    # doctest: +SKIP
[SearchHit(url='https://shop.example/joint', text='Cures arthritis in 30 days', first_seen=..., ...)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select, text
from sqlalchemy.orm import Session

from monitor.fulltext import index_pending
from monitor.models import Page, Site, Snapshot, StatementRow
from monitor.statements import KINDS, TYPES

MAX_RESULTS = 200
MAX_WORDS = 12
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str = ""
    kind: str | None = None
    type: str | None = None
    site: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def words(self) -> list[str]:
        return _WORD.findall(self.text.lower())[:MAX_WORDS]

    @property
    def empty(self) -> bool:
        return not self.words and not self.kind and not self.type


@dataclass(frozen=True, slots=True)
class SearchHit:
    page_id: int
    url: str
    site: str
    kind: str
    type: str
    severity: str
    text: str
    first_seen: datetime
    last_seen: datetime
    snapshots: int
    current: bool


def fts5_query(words: list[str]) -> str:
    """Words as an FTS5 query that is only ever words: each one a quoted string, all of them required
    (``fts5_query(["cure", 'x"y'])`` -> ``'"cure" "x""y"'``); no operator or column filter of the user's."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def _text_filter(dialect: str, words: list[str]) -> ColumnElement[bool]:
    if dialect == "sqlite":
        # the FTS5 index answers with statement ids (rowid = statement.id)
        matching = text("SELECT rowid FROM statement_fts WHERE statement_fts MATCH :fts").bindparams(
            fts=fts5_query(words)).columns(literal_column("rowid"))
        return StatementRow.id.in_(matching)
    if dialect == "postgresql":
        # the same expression as the GIN index of migration 0005, so the index answers
        return func.to_tsvector(literal_column("'english'"), StatementRow.text).op("@@")(
            func.plainto_tsquery(literal_column("'english'"), " ".join(words)))
    clauses = [func.lower(StatementRow.text).contains(word) for word in words]  # any other database: slow
    return clauses[0] if len(clauses) == 1 else clauses[0].__and__(*clauses[1:])


def search_statements(session: Session, dialect: str, query: SearchQuery,
                      limit: int = MAX_RESULTS) -> list[SearchHit]:
    """The statements matching ``query``, grouped per page and text. On SQLite, queued statements are indexed
    first (``monitor.fulltext``): the caller commits to keep that work."""
    if query.empty:
        return []
    where: list[Any] = []
    if query.words:
        # on SQLite, statements stored since the last run ended (a crawl still running, one killed) are queued,
        # not yet indexed: indexed now, so a search sees every statement (kept when the caller commits)
        index_pending(session)
        where.append(_text_filter(dialect, query.words))
    if query.kind in KINDS:
        where.append(StatementRow.kind == query.kind)
    if query.type and any(query.type in types for types in TYPES.values()):
        where.append(StatementRow.type == query.type)
    if query.site:
        site_id = session.scalar(select(Site.id).where(Site.name == query.site))
        if site_id is None:
            return []
        where.append(Snapshot.page_id.in_(select(Page.id).where(Page.site_id == site_id)))
    if query.since:
        where.append(Snapshot.created_at >= query.since)
    if query.until:
        where.append(Snapshot.created_at < query.until)
    # grouped on the statement and snapshot tables alone; pages, sellers and "is it on the page now" are
    # looked up for the hits only
    last = func.max(Snapshot.created_at)
    grouped = session.execute(
        select(Snapshot.page_id, StatementRow.kind, StatementRow.type, StatementRow.severity, StatementRow.text,
               func.min(Snapshot.created_at), last, func.count(func.distinct(Snapshot.id)))
        .select_from(StatementRow)
        .join(Snapshot, Snapshot.id == StatementRow.snapshot_id)
        .where(*where)
        .group_by(Snapshot.page_id, StatementRow.kind, StatementRow.type, StatementRow.severity, StatementRow.text)
        .order_by(last.desc(), Snapshot.page_id)
        .limit(limit)
    ).all()
    if not grouped:
        return []
    page_ids = sorted({row[0] for row in grouped})
    pages = {page_id: (url, site) for page_id, url, site in session.execute(
        select(Page.id, Page.url, Site.name).join(Site, Site.id == Page.site_id).where(Page.id.in_(page_ids)))}
    texts = sorted({row[4] for row in grouped})
    current = {(page_id, text_) for page_id, text_ in session.execute(
        select(Page.id, StatementRow.text).join(StatementRow, StatementRow.snapshot_id == Page.current_snapshot_id)
        .where(Page.id.in_(page_ids), StatementRow.text.in_(texts)))}
    return [SearchHit(page_id, pages[page_id][0], pages[page_id][1], kind, type_, severity, text_, first_seen,
                      last_seen, int(count), (page_id, text_) in current)
            for page_id, kind, type_, severity, text_, first_seen, last_seen, count in grouped]
