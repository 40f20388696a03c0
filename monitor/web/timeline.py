"""A page's history for the timeline view: its snapshots, fetches, changes and events, and two snapshots
compared statement by statement (Flask-free)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.diff import diff_statements, match_key
from monitor.models import Change, Event, Fetch, Page, Site, Snapshot, StatementMute, StatementRow
from monitor.store import snapshot_statements
from monitor.web.triage import page_mutes

FETCH_LOG_LIMIT = 200


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    snapshot: Snapshot
    fetch: Fetch
    statements: int


@dataclass(frozen=True, slots=True)
class PageHistory:
    page: Page
    site: Site
    snapshots: tuple[SnapshotRow, ...]  # newest first
    fetches: tuple[Fetch, ...]  # newest first, at most FETCH_LOG_LIMIT
    fetch_count: int
    changes: tuple[Change, ...]
    events: tuple[Event, ...]
    mutes: tuple[StatementMute, ...]


def page_history(session: Session, page_id: int) -> PageHistory | None:
    page = session.get(Page, page_id)
    if page is None:
        return None
    site = session.get(Site, page.site_id)
    assert site is not None
    counts = dict(session.execute(
        select(StatementRow.snapshot_id, func.count()).join(Snapshot, Snapshot.id == StatementRow.snapshot_id)
        .where(Snapshot.page_id == page_id).group_by(StatementRow.snapshot_id)).all())
    snapshots = tuple(
        SnapshotRow(snapshot, fetch, int(counts.get(snapshot.id, 0)))
        for snapshot, fetch in session.execute(
            select(Snapshot, Fetch).join(Fetch, Fetch.id == Snapshot.fetch_id).where(Snapshot.page_id == page_id)
            .order_by(Snapshot.created_at.desc(), Snapshot.id.desc())).all()
    )
    fetches = tuple(session.scalars(select(Fetch).where(Fetch.page_id == page_id)
                                    .order_by(Fetch.fetched_at.desc(), Fetch.id.desc()).limit(FETCH_LOG_LIMIT)))
    fetch_count = int(session.scalar(select(func.count()).select_from(Fetch).where(Fetch.page_id == page_id)) or 0)
    changes = tuple(session.scalars(select(Change).where(Change.page_id == page_id)
                                    .order_by(Change.detected_at.desc(), Change.id.desc()).limit(500)))
    events = tuple(session.scalars(select(Event).where(Event.page_id == page_id)
                                   .order_by(Event.at.desc(), Event.id.desc()).limit(200)))
    return PageHistory(page, site, snapshots, fetches, fetch_count, changes, events,
                       tuple(page_mutes(session, page_id)))


@dataclass(frozen=True, slots=True)
class CompareRow:
    """One line of the side-by-side view: the statement in the older snapshot (left) and the newer (right)."""

    status: str  # same | added | removed | modified
    kind: str
    type: str
    severity: str
    left: tuple[tuple[str, str], ...]  # (op, text) runs
    right: tuple[tuple[str, str], ...]
    position: int
    delta: dict[str, Any]


def compare_snapshots(session: Session, older: Snapshot, newer: Snapshot) -> list[CompareRow]:
    """Every statement of both snapshots, aligned: unchanged ones side by side, changes with their words
    struck through (left) and underlined (right)."""
    before = snapshot_statements(session, older.id)
    after = snapshot_statements(session, newer.id)
    changes = diff_statements(before, after)
    rows: list[CompareRow] = []
    changed_after = {c.after_position for c in changes if c.after_position is not None}
    for change in changes:
        if change.change == "modified" and change.inline:
            left = tuple(part for part in change.inline if part[0] in ("equal", "delete"))
            right = tuple(part for part in change.inline if part[0] in ("equal", "insert"))
        else:
            left = (("delete", change.before),) if change.before else ()
            right = (("insert", change.after),) if change.after else ()
        position = change.after_position if change.after_position is not None else change.before_position or 0
        rows.append(CompareRow(change.change, change.kind, change.type, change.severity, left, right,
                               position, dict(change.delta)))
    old_keys = {match_key(statement) for statement in before}
    for statement in after:
        if statement.position in changed_after or match_key(statement) not in old_keys:
            continue
        rows.append(CompareRow("same", statement.kind, statement.type, statement.severity,
                               (("equal", statement.text),), (("equal", statement.text),), statement.position, {}))
    rows.sort(key=lambda row: (row.position, row.status != "removed"))
    return rows
