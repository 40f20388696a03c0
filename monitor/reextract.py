"""Re-run extraction over stored bodies after the rules change, without refetching anything.

Every snapshot made by an older extractor gets its statements and findings rewritten in place from the raw
body it was made from; the changes between the page's snapshots are then recomputed. A rules upgrade is
never reported as a site change: recomputed changes inherit the reported state of the changes they replace,
and changes that only the new rules see in old history are recorded as already reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.diff import diff_statements
from monitor.extract import analyse_page, extractor_version
from monitor.fulltext import index_pending
from monitor.models import Change, Fetch, Page, Site, Snapshot, StatementRow, utcnow
from monitor.normalize import IncompleteParseError
from monitor.statements import Statement
from monitor.store import (
    change_row,
    finding_dict,
    insert_statements,
    load_body,
    snapshot_statements,
    statement_rows,
    statements_hash,
)


@dataclass
class ReextractSummary:
    pages: int = 0
    snapshots: int = 0
    skipped: int = 0  # snapshots whose body is not stored, or cannot be parsed whole (left as they are)
    changes_before: int = 0
    changes_after: int = 0


def reextract_page(session: Session, page: Page, *, force: bool = False, now: datetime | None = None,
                   summary: ReextractSummary | None = None) -> ReextractSummary:
    """Re-extract one page's snapshots and recompute its changes, inside the caller's transaction."""
    summary = summary or ReextractSummary()
    now = now or utcnow()
    snapshots = list(session.scalars(select(Snapshot).where(Snapshot.page_id == page.id).order_by(Snapshot.id)))
    version = extractor_version()
    stale = [s for s in snapshots if force or s.extractor_version != version]
    if not stale:
        return summary
    summary.pages += 1
    for snapshot in stale:
        fetch = session.get(Fetch, snapshot.fetch_id)
        body = load_body(session, fetch.sha256) if fetch is not None and fetch.sha256 else None
        if body is None:
            summary.skipped += 1
            continue
        try:
            analysis = analyse_page(body)
        except IncompleteParseError:  # (a page stored before parses that stop early were refused)
            summary.skipped += 1
            continue
        statements = analysis.statements
        session.execute(delete(StatementRow).where(StatementRow.snapshot_id == snapshot.id))
        if statements:
            session.execute(insert_statements(), statement_rows(snapshot.id, statements))
        snapshot.statements_hash = statements_hash(statements)
        snapshot.findings = [finding_dict(finding) for finding in analysis.findings]
        snapshot.extractor_version = version
        summary.snapshots += 1
    session.flush()
    _recompute_changes(session, page, snapshots, now, summary)
    return summary


def _pairs(session: Session, page: Page, snapshots: Sequence[Snapshot]) -> list[tuple[int | None, int]]:
    """The (before, after) snapshot pairs of the page's history: as recorded, else consecutive."""
    recorded = {
        (before, after)
        for before, after in session.execute(
            select(Change.before_snapshot_id, Change.after_snapshot_id).where(Change.page_id == page.id).distinct()
        )
        if after is not None
    }
    afters = {after for _before, after in recorded}
    pairs = sorted(recorded, key=lambda pair: pair[1])
    for previous, snapshot in zip(snapshots, snapshots[1:], strict=False):
        if snapshot.id not in afters:
            pairs.append((previous.id, snapshot.id))
    return sorted(pairs, key=lambda pair: pair[1])


def _recompute_changes(session: Session, page: Page, snapshots: Sequence[Snapshot], now: datetime,
                       summary: ReextractSummary) -> None:
    cache: dict[int, list[Statement]] = {}

    def statements_of(snapshot_id: int) -> list[Statement]:
        if snapshot_id not in cache:
            cache[snapshot_id] = snapshot_statements(session, snapshot_id)
        return cache[snapshot_id]

    order = [s.id for s in snapshots]
    for before_id, after_id in _pairs(session, page, snapshots):
        same_before = (Change.before_snapshot_id.is_(None) if before_id is None
                       else Change.before_snapshot_id == before_id)
        old = list(session.scalars(select(Change).where(
            Change.page_id == page.id, Change.after_snapshot_id == after_id, same_before)))
        summary.changes_before += len(old)
        reported = [c.reported_at for c in old if c.reported_at is not None]
        # the old changes were either all reported (inherit that) or still pending (stay pending); a pair
        # that had no changes before was never news, so what the new rules find there is not news either
        reported_at = max(reported) if reported else (None if old else now)
        detected_at = min((c.detected_at for c in old), default=None)
        run_id = old[0].run_id if old else None
        for stale_change in old:
            session.delete(stale_change)
        session.flush()
        before = statements_of(before_id) if before_id is not None else []
        if after_id in order:
            position = order.index(after_id)
            history = [statements_of(s) for s in order[max(0, position - 4):max(0, position - 1)]][::-1]
        else:
            history = []
        after_snapshot = session.get(Snapshot, after_id)
        at = detected_at or (after_snapshot.created_at if after_snapshot else now)
        for recomputed in diff_statements(before, statements_of(after_id), history=history):
            row = change_row(page, run_id, before_id, after_id, recomputed, at)
            row.reported_at = reported_at
            session.add(row)
            summary.changes_after += 1


def reextract(sessions: sessionmaker[Session], *, site: str | None = None, force: bool = False) -> ReextractSummary:
    """Re-extract every page (of one site), one transaction per page."""
    summary = ReextractSummary()
    with sessions() as session:
        query = select(Page.id).join(Site, Site.id == Page.site_id).order_by(Page.id)
        if site:
            query = query.where(Site.name == site)
        page_ids = list(session.scalars(query))
    now = utcnow()
    for page_id in page_ids:
        with sessions.begin() as session:
            page = session.get(Page, page_id)
            if page is not None:
                reextract_page(session, page, force=force, now=now, summary=summary)
    with sessions.begin() as session:
        index_pending(session)  # the new snapshots' statements into the full-text index
    return summary
