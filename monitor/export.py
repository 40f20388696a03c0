"""The public JSON/CSV contracts: latest snapshot per page, and changes with events.

Shapes (docs/json-contract.md):
  {"pages": [{"url", "site", "fetched_at", "status", "sha256", "statements": [...], "findings": [...]}]}
  {"changes": [{"url", "site", "change", "kind", "type", "before", "after", "severity", "detected_at"}],
   "events": [{"url", "site", "event", "detail"}]}
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.extract.reasons import describe_reason
from monitor.models import Change, Event, Fetch, Page, Site, Snapshot, StatementRow
from monitor.statements import SEVERITIES, severity_rank
from monitor.terminal import one_line


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def export_pages(session: Session, site: str | None = None) -> dict[str, Any]:
    """Every page's current snapshot with its statements (pages never stored successfully are left out)."""
    query = (
        select(Page, Site.name, Snapshot, Fetch)
        .join(Site, Site.id == Page.site_id)
        .join(Snapshot, Snapshot.id == Page.current_snapshot_id)
        .join(Fetch, Fetch.id == Snapshot.fetch_id)
        .order_by(Site.name, Page.url)
    )
    if site:
        query = query.where(Site.name == site)
    rows = session.execute(query).all()
    snapshot_ids = [snapshot.id for _page, _name, snapshot, _fetch in rows]
    statements: dict[int, list[dict[str, Any]]] = {sid: [] for sid in snapshot_ids}
    for chunk_start in range(0, len(snapshot_ids), 500):
        chunk = snapshot_ids[chunk_start:chunk_start + 500]
        for row in session.scalars(select(StatementRow).where(StatementRow.snapshot_id.in_(chunk))
                                   .order_by(StatementRow.snapshot_id, StatementRow.position)):
            statements[row.snapshot_id].append({
                "kind": row.kind, "type": row.type, "text": row.text, "severity": row.severity,
                "attributes": row.attributes or {}, "reason": describe_reason(row.rule, row.matched),
            })
    # fetched_at/status/sha256 are those of the fetch that first saw this version: its raw body is kept
    # under that SHA-256 (the evidence); last_checked_at is the latest successful fetch of the page
    pages: list[dict[str, Any]] = []
    for page, site_name, snapshot, first_fetch in rows:
        pages.append({
            "url": page.url,
            "site": site_name,
            "fetched_at": _iso(first_fetch.fetched_at),
            "status": first_fetch.status,
            "sha256": first_fetch.sha256,
            "statements": statements[snapshot.id],
            "findings": list(snapshot.findings or []),
            "last_checked_at": _iso(page.last_seen),
        })
    return {"pages": pages}


# a cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP "CSV
# injection"): page text such as "=HYPERLINK(...)" or "@SUM(...)" gets a leading apostrophe
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: ``spreadsheet_cell("=1+1") == "'=1+1"``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


CSV_COLUMNS = ("url", "site", "fetched_at", "status", "sha256", "position", "kind", "type", "severity", "text",
               "attributes", "reason")


def pages_to_csv(document: dict[str, Any]) -> str:
    """One row per statement (a page with no statements still gets one row); no cell starts a formula."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)

    def write(row: list[object]) -> None:
        writer.writerow([spreadsheet_cell(cell) for cell in row])

    for page in document["pages"]:
        base = [page["url"], page["site"], page["fetched_at"], page["status"], page["sha256"]]
        if not page["statements"]:
            write([*base, "", "", "", "", "", "", ""])
        for position, statement in enumerate(page["statements"]):
            write([*base, position, statement["kind"], statement["type"], statement["severity"],
                   statement["text"], json.dumps(statement["attributes"], sort_keys=True),
                   statement.get("reason", "")])
    return out.getvalue()


def query_changes(
    session: Session,
    *,
    since: datetime | None = None,
    site: str | None = None,
    min_severity: str = "info",
    kinds: Sequence[str] = (),
) -> dict[str, Any]:
    """Changes and page events, oldest first, filtered as the `changes` command's options say."""
    if min_severity not in SEVERITIES:
        raise ValueError(f"unknown severity {min_severity!r} (one of {', '.join(SEVERITIES)})")
    allowed = [level for level in SEVERITIES if severity_rank(level) >= severity_rank(min_severity)]
    query = (
        select(Change, Page.url, Site.name)
        .join(Page, Page.id == Change.page_id)
        .join(Site, Site.id == Change.site_id)
        .where(Change.severity.in_(allowed))
        .order_by(Change.detected_at, Change.id)
    )
    events_query = (
        select(Event, Page.url, Site.name)
        .join(Page, Page.id == Event.page_id)
        .join(Site, Site.id == Event.site_id)
        .order_by(Event.at, Event.id)
    )
    if since is not None:
        query = query.where(Change.detected_at >= since)
        events_query = events_query.where(Event.at >= since)
    if site:
        query = query.where(Site.name == site)
        events_query = events_query.where(Site.name == site)
    if kinds:
        query = query.where(Change.kind.in_(list(kinds)))
    changes: list[dict[str, Any]] = [
        {
            "url": url, "site": site_name, "change": change.change, "kind": change.kind, "type": change.type,
            "before": change.before, "after": change.after, "severity": change.severity,
            "detected_at": _iso(change.detected_at),
            "before_type": change.before_type, "delta": change.delta or {}, "id": change.id,
        }
        for change, url, site_name in session.execute(query)
    ]
    events: list[dict[str, Any]] = [
        {"url": url, "site": site_name, "event": event.event, "detail": event.detail, "at": _iso(event.at),
         "id": event.id}
        for event, url, site_name in session.execute(events_query)
    ]
    # the analysts' triage in the web app (docs/webapp.md): {"state", "by", "at", "note"}, or null
    from monitor.web.triage import states_for_changes, states_for_events

    change_states = states_for_changes(session, [item["id"] for item in changes])
    event_states = states_for_events(session, [item["id"] for item in events])
    for item in changes:
        state = change_states.get(item["id"])
        item["triage"] = state.as_json() if state is not None else None
    for item in events:
        state = event_states.get(item["id"])
        item["triage"] = state.as_json() if state is not None else None
    return {"changes": changes, "events": events}


def changes_table(document: dict[str, Any], width: int = 60) -> str:
    """A readable fixed-width table of changes, then events; every cell one line, with no terminal
    escape sequences or control characters (page text is untrusted)."""

    def cut(text: str | None) -> str:
        text = one_line(text)
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = []
    header = f"{'SEVERITY':<8}  {'CHANGE':<8}  {'KIND/TYPE':<30}  {'SITE':<16}  URL"
    lines.append(header)
    for change in document["changes"]:
        kind_type = one_line(f"{change['kind']}/{change['type']}")
        lines.append(f"{one_line(change['severity']):<8}  {one_line(change['change']):<8}  {kind_type:<30}  "
                     f"{one_line(change['site']):<16}  {one_line(change['url'])}")
        if change["before"]:
            lines.append(f"{'':<10}- {cut(change['before'])}")
        if change["after"]:
            lines.append(f"{'':<10}+ {cut(change['after'])}")
    if not document["changes"]:
        lines.append("(no changes)")
    if document["events"]:
        lines.append("")
        lines.append(f"{'EVENT':<10}  {'SITE':<16}  URL  DETAIL")
        for event in document["events"]:
            lines.append(f"{one_line(event['event']):<10}  {one_line(event['site']):<16}  {one_line(event['url'])}  "
                         f"{cut(event['detail'])}")
    return "\n".join(lines) + "\n"
