"""The inbox: changes and page events, newest first, filtered, with their triage state (Flask-free).

>>> page = inbox_page(session, InboxFilter(site="acme", min_severity="medium"))   # doctest: +SKIP
>>> [(row.item.id, row.triage) for row in page.changes]                           # doctest: +SKIP
[(42, None)]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from monitor.models import Change, Event, Page, Site, StatementMute, Triage
from monitor.report import EVENT_SEVERITY, ChangeItem, EventItem, _evidence, _inline, _reasons, describe_delta
from monitor.statements import KINDS, SEVERITIES, TYPES, severity_rank
from monitor.web.triage import TriageState, muted_changes

STATE_FILTERS: tuple[str, ...] = ("untriaged", "escalated", "acknowledged", "all")
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class InboxFilter:
    site: str | None = None
    min_severity: str = "info"
    kind: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    state: str = "untriaged"
    page: int = 1

    def normalised(self) -> InboxFilter:
        """Unknown values dropped rather than trusted (they come from a query string)."""
        kind = self.kind if self.kind in KINDS else None
        types = TYPES.get(kind, ()) if kind else tuple(t for ts in TYPES.values() for t in ts)
        return InboxFilter(
            site=self.site or None,
            min_severity=self.min_severity if self.min_severity in SEVERITIES else "info",
            kind=kind, type=self.type if self.type in types else None, since=self.since, until=self.until,
            state=self.state if self.state in STATE_FILTERS else "untriaged", page=max(1, min(self.page, 10_000)),
        )


@dataclass(frozen=True, slots=True)
class ChangeRow:
    item: ChangeItem
    page_id: int
    triage: TriageState | None
    muted: StatementMute | None


@dataclass(frozen=True, slots=True)
class EventRow:
    item: EventItem
    page_id: int
    triage: TriageState | None


@dataclass(frozen=True, slots=True)
class InboxPage:
    filter: InboxFilter
    changes: tuple[ChangeRow, ...]
    events: tuple[EventRow, ...]
    total_changes: int
    total_events: int

    @property
    def pages(self) -> int:
        return max(1, -(-max(self.total_changes, self.total_events) // PAGE_SIZE))


def _state(triage: Triage | None) -> TriageState | None:
    return TriageState(triage.state, triage.actor, triage.at, triage.note) if triage is not None else None


def change_items(session: Session, rows: list[tuple[Change, str, str]]) -> list[ChangeItem]:
    """The report's view of these changes (word runs, plain deltas, evidence, the statement's reason)."""
    changes = [change for change, _url, _site in rows]
    evidence = _evidence(session, changes)
    reasons = _reasons(session, changes)
    return [
        ChangeItem(id=change.id, site=site, url=url, change=change.change, kind=change.kind, type=change.type,
                   before_type=change.before_type, severity=change.severity, before=change.before,
                   after=change.after, inline=_inline(change.inline), delta=describe_delta(change.delta or {}),
                   detected_at=change.detected_at, evidence=evidence[change.id], reason=reasons.get(change.id, ""))
        for change, url, site in rows
    ]


def inbox_page(session: Session, wanted: InboxFilter) -> InboxPage:
    wanted = wanted.normalised()
    allowed = [level for level in SEVERITIES if severity_rank(level) >= severity_rank(wanted.min_severity)]
    change_where: list[ColumnElement[bool]] = [Change.severity.in_(allowed)]
    event_kinds = [name for name, level in EVENT_SEVERITY.items() if level in allowed]
    event_where: list[ColumnElement[bool]] = [Event.event.in_(event_kinds)]
    if wanted.site:
        site_id = session.scalar(select(Site.id).where(Site.name == wanted.site))
        change_where.append(Change.site_id == (site_id or -1))
        event_where.append(Event.site_id == (site_id or -1))
    if wanted.kind:
        change_where.append(Change.kind == wanted.kind)
    if wanted.type:
        change_where.append(Change.type == wanted.type)
    if wanted.since:
        change_where.append(Change.detected_at >= wanted.since)
        event_where.append(Event.at >= wanted.since)
    if wanted.until:
        change_where.append(Change.detected_at < wanted.until)
        event_where.append(Event.at < wanted.until)
    if wanted.state == "untriaged":
        change_where.append(Triage.id.is_(None))
        event_where.append(Triage.id.is_(None))
    elif wanted.state != "all":
        change_where.append(Triage.state == wanted.state)
        event_where.append(Triage.state == wanted.state)
    offset = (wanted.page - 1) * PAGE_SIZE

    # the page's ids first (the detected_at index, newest first, skipping triaged ones), then their rows:
    # joining pages and sellers before the LIMIT would join every matching change
    page_ids = (select(Change.id).outerjoin(Triage, Triage.change_id == Change.id).where(*change_where)
                .order_by(Change.detected_at.desc(), Change.id.desc()).limit(PAGE_SIZE).offset(offset))
    rows = session.execute(select(Change, Page.url, Site.name, Triage)
                           .join(Page, Page.id == Change.page_id).join(Site, Site.id == Change.site_id)
                           .outerjoin(Triage, Triage.change_id == Change.id)
                           .where(Change.id.in_(page_ids.scalar_subquery()))
                           .order_by(Change.detected_at.desc(), Change.id.desc())).all()
    total_changes = int(session.scalar(select(func.count()).select_from(Change)
                                       .outerjoin(Triage, Triage.change_id == Change.id)
                                       .where(*change_where)) or 0)
    items = change_items(session, [(change, url, site) for change, url, site, _triage in rows])
    mutes = muted_changes(session, [change for change, *_rest in rows])
    changes = tuple(ChangeRow(item, change.page_id, _state(triage), mutes.get(change.id))
                    for item, (change, _url, _site, triage) in zip(items, rows, strict=True))

    events: tuple[EventRow, ...] = ()
    total_events = 0
    if not wanted.kind and not wanted.type:  # page events have no statement kind or type
        event_ids = (select(Event.id).outerjoin(Triage, Triage.event_id == Event.id).where(*event_where)
                     .order_by(Event.at.desc(), Event.id.desc()).limit(PAGE_SIZE).offset(offset))
        event_rows = session.execute(
            select(Event, Page.url, Site.name, Triage).join(Page, Page.id == Event.page_id)
            .join(Site, Site.id == Event.site_id).outerjoin(Triage, Triage.event_id == Event.id)
            .where(Event.id.in_(event_ids.scalar_subquery())).order_by(Event.at.desc(), Event.id.desc())
        ).all()
        total_events = int(session.scalar(select(func.count()).select_from(Event)
                                          .outerjoin(Triage, Triage.event_id == Event.id)
                                          .where(*event_where)) or 0)
        events = tuple(
            EventRow(EventItem(id=event.id, site=site, url=url, event=event.event,
                               severity=EVENT_SEVERITY.get(event.event, "low"), detail=event.detail or "",
                               at=event.at), event.page_id, _state(triage))
            for event, url, site, triage in event_rows
        )
    return InboxPage(wanted, changes, events, total_changes, total_events)


def change_row(session: Session, change_id: int) -> ChangeRow | None:
    """One change as the inbox shows it (for its own page)."""
    found = session.execute(select(Change, Page.url, Site.name, Triage).join(Page, Page.id == Change.page_id)
                            .join(Site, Site.id == Change.site_id)
                            .outerjoin(Triage, Triage.change_id == Change.id).where(Change.id == change_id)).first()
    if found is None:
        return None
    change, url, site, triage = found
    item = change_items(session, [(change, url, site)])[0]
    return ChangeRow(item, change.page_id, _state(triage), muted_changes(session, [change]).get(change.id))
