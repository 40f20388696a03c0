"""Reports: what changed on the watched pages in a period, as data, then as HTML and plain text.

``build_report()`` reads the database into a ``ReportContext`` (plain frozen dataclasses, no ORM objects);
``render_report()`` turns one context into a subject, an HTML part (CSS inlined for mail clients) and a
plain-text alternative with Jinja2 templates from the top-level ``templates/`` folder. Sending lives in
``monitor.mail``.

>>> ctx = build_report(session, since=None, until=datetime.now(UTC))      # doctest: +SKIP
>>> rendered = render_report(ctx)                                          # doctest: +SKIP
>>> rendered.subject                                                       # doctest: +SKIP
'[claimwatch] 2 high, 5 medium changes at 3 sellers'
"""

from __future__ import annotations

import html
import shlex
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor import resources
from monitor.extract.reasons import describe_reason
from monitor.models import Change, Event, Fetch, Page, Site, Snapshot, StatementRow
from monitor.statements import SEVERITIES, severity_rank

__all__ = [
    "MAIL_HTML_LIMIT",
    "Abridgement",
    "ChangeItem",
    "EventItem",
    "Evidence",
    "FindingItem",
    "PageGroup",
    "RenderedReport",
    "ReportContext",
    "SellerGroup",
    "SellerSummary",
    "SeverityGroup",
    "build_report",
    "describe_delta",
    "full_report_command",
    "mailed_size",
    "render_report",
    "restrict_report",
    "templates_dir",
]

# --- rules as data -------------------------------------------------------------------------------------

#: Severities from the most to the least serious: the order of the report's sections.
SEVERITY_ORDER: tuple[str, ...] = tuple(reversed(SEVERITIES))

#: How much a page event matters, so ``min_severity`` filters events as it filters changes.
EVENT_SEVERITY: dict[str, str] = {"gone": "medium", "moved": "medium", "error": "low", "recovered": "info",
                                  "suspected_outage": "medium"}  # the page answered, but not with its content

#: Badge colours (background, text). Strong backgrounds with white text keep their contrast when a mail
#: client inverts colours in dark mode; every colour is given explicitly, never left to the client.
SEVERITY_COLOURS: dict[str, tuple[str, str]] = {
    "high": ("#b42318", "#ffffff"),
    "medium": ("#b54708", "#ffffff"),
    "low": ("#175cd3", "#ffffff"),
    "info": ("#475467", "#ffffff"),
}

#: Plain wording of diff reason codes that no other delta entry already states.
REASON_TEXT: dict[str, str] = {
    "refund_removed": "refund wording removed",
    "refund_added": "refund wording added",
    "dshea_removed_with_structure_function_claims": "DSHEA disclaimer removed while structure/function "
    "claims remain",
    "dshea_removed_with_claims": "DSHEA disclaimer removed while claims remain",
    "dshea_removed_no_claims": "DSHEA disclaimer removed; the page no longer makes claims",
    "dshea_still_present": "another DSHEA disclaimer is still on the page",
    "testimonial_disclaimer_removed": "testimonial disclaimer removed while testimonials remain",
}

#: Only these URL schemes ever become links; scraped ``javascript:`` or ``data:`` URLs stay text.
LINK_SCHEMES: frozenset[str] = frozenset({"http", "https"})

#: Bytes of HTML a mailed report stays under (``mailed_size``: UTF-8, CRLF line ends, before transfer encoding).
#: Gmail clips a message whose HTML exceeds about 102 KB, hiding the rest behind "[Message clipped]".
MAIL_HTML_LIMIT = 100_000

#: The report's templates, relative to ``templates_dir()``.
HTML_TEMPLATE = "report.html"
TEXT_TEMPLATE = "report.txt"


# --- the context --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where an analyst finds the proof of a change in the claimwatch database and evidence store."""

    before_snapshot_id: int | None
    after_snapshot_id: int | None
    fetch_id: int | None
    fetched_at: datetime | None
    sha256: str | None
    http_status: int | None = None
    screenshot: str | None = None  # screenshot SHA-256 of the snapshot, once evidence capture lands
    warc: str | None = None  # "<warc path>#<offset>" of the fetch's WARC record


@dataclass(frozen=True, slots=True)
class ChangeItem:
    """One statement change as the analyst reads it."""

    id: int
    site: str
    url: str
    change: str  # added | removed | modified
    kind: str
    type: str
    before_type: str | None
    severity: str
    before: str | None
    after: str | None
    inline: tuple[tuple[str, str], ...]
    delta: tuple[str, ...]  # plain sentences: "90 -> 30 days", "conditions added: less shipping"
    detected_at: datetime
    evidence: Evidence
    reason: str = ""  # why the statement is what it is: the rule, or the model's strongest features
    triage: str = ""  # the analysts' decision in the web app: "escalated by ann 2026-05-03 07:00 UTC"

    @property
    def badge(self) -> str:
        """``"guarantee / money_back"``, or ``"claim / disease -> structure_function"`` when the type changed."""
        if self.before_type and self.before_type != self.type:
            return f"{self.kind} / {self.before_type} -> {self.type}"
        return f"{self.kind} / {self.type}"

    @property
    def before_parts(self) -> tuple[tuple[str, str], ...]:
        """The old text as (op, text) runs: unchanged words and removed words."""
        if self.inline:
            return tuple(part for part in self.inline if part[0] in ("equal", "delete"))
        return (("delete" if self.change == "removed" else "equal", self.before),) if self.before else ()

    @property
    def after_parts(self) -> tuple[tuple[str, str], ...]:
        """The new text as (op, text) runs: unchanged words and inserted words."""
        if self.inline:
            return tuple(part for part in self.inline if part[0] in ("equal", "insert"))
        return (("insert" if self.change == "added" else "equal", self.after),) if self.after else ()


@dataclass(frozen=True, slots=True)
class PageGroup:
    url: str
    changes: tuple[ChangeItem, ...]


@dataclass(frozen=True, slots=True)
class SellerGroup:
    site: str
    pages: tuple[PageGroup, ...]

    @property
    def count(self) -> int:
        return sum(len(page.changes) for page in self.pages)


@dataclass(frozen=True, slots=True)
class SeverityGroup:
    severity: str
    sellers: tuple[SellerGroup, ...]

    @property
    def count(self) -> int:
        return sum(seller.count for seller in self.sellers)


@dataclass(frozen=True, slots=True)
class EventItem:
    id: int
    site: str
    url: str
    event: str  # gone | error | moved | recovered
    severity: str
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FindingItem:
    """A compliance finding on a page's current snapshot, e.g. ``sf_claim_without_dshea``."""

    site: str
    url: str
    code: str
    severity: str
    detail: str
    snapshot_id: int
    since: datetime  # when the snapshot carrying the finding was first seen
    statements: tuple[str, ...] = ()  # the statements the finding points at
    new: bool = False  # the snapshot appeared within the report's period


@dataclass(frozen=True, slots=True)
class SellerSummary:
    site: str
    counts: tuple[tuple[str, int], ...]  # (severity, changes) in SEVERITY_ORDER
    events: int

    @property
    def changes(self) -> int:
        return sum(count for _, count in self.counts)


@dataclass(frozen=True, slots=True)
class ReportContext:
    """Everything a report shows; ``changes`` and ``events`` are flat, ``groups`` is their nesting."""

    since: datetime | None
    until: datetime
    generated_at: datetime
    min_severity: str
    sites: tuple[str, ...]  # the sellers in scope, with or without changes
    changes: tuple[ChangeItem, ...]
    events: tuple[EventItem, ...]
    findings: tuple[FindingItem, ...]
    groups: tuple[SeverityGroup, ...] = ()
    by_severity: tuple[tuple[str, int], ...] = ()
    by_seller: tuple[SellerSummary, ...] = ()
    kind: str = "digest"  # digest | alert | report
    web_url: str | None = None  # the web app's address (CLAIMWATCH_WEB_URL): each change links to its page

    @property
    def is_empty(self) -> bool:
        """No changes and no events: nothing happened worth a message (findings are standing state)."""
        return not self.changes and not self.events

    @property
    def change_ids(self) -> tuple[int, ...]:
        return tuple(item.id for item in self.changes)

    @property
    def event_ids(self) -> tuple[int, ...]:
        return tuple(item.id for item in self.events)

    @property
    def seller_count(self) -> int:
        return len(self.by_seller)


@dataclass(frozen=True, slots=True)
class Abridgement:
    """How a report too large for mail was shortened, and the command that shows all of it."""

    changes_shown: int  # the most severe changes, listed
    changes: int
    sellers_shown: int  # rows of the seller table (the sellers with the most severe changes)
    sellers: int
    events: int  # page events and findings: counted in the summary, not listed
    findings: int
    command: str  # `claimwatch report ...`: the full report of the same changes, reported or not


@dataclass(frozen=True, slots=True)
class RenderedReport:
    subject: str
    html: str
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


# --- building -----------------------------------------------------------------------------------------


def _allowed_severities(min_severity: str) -> tuple[str, ...]:
    if min_severity not in SEVERITIES:
        raise ValueError(f"unknown severity {min_severity!r} (choose from {', '.join(SEVERITIES)})")
    return tuple(s for s in SEVERITIES if severity_rank(s) >= severity_rank(min_severity))


def build_report(
    session: Session,
    *,
    since: datetime | None,
    until: datetime,
    sites: Sequence[str] | None = None,
    min_severity: str = "info",
    unreported_only: bool = False,
    run_id: int | None = None,
    kind: str = "digest",
    web_url: str | None = None,
) -> ReportContext:
    """Read the changes and events detected in ``[since, until)`` (all of them when ``since`` is None).

    ``sites`` limits the report to those sellers (unknown names raise ``ValueError``); ``min_severity``
    drops milder changes, events and findings; ``unreported_only`` keeps what no message has reported yet;
    ``run_id`` keeps what one crawl run detected; with ``unreported_only`` (what is mailed) changes of a
    statement muted in the web app are left out. ``web_url``: each change links to its page in the web app.
    Reads only: nothing is marked.
    """
    allowed = _allowed_severities(min_severity)
    site_rows = _sites(session, sites)
    site_ids = [site.id for site in site_rows]
    names = {site.id: site.name for site in site_rows}

    change_query = (
        select(Change, Page.url)
        .join(Page, Page.id == Change.page_id)
        .where(Change.site_id.in_(site_ids), Change.severity.in_(allowed), Change.detected_at < until)
        .order_by(Change.detected_at, Change.id)
    )
    event_query = (
        select(Event, Page.url)
        .join(Page, Page.id == Event.page_id)
        .where(Event.site_id.in_(site_ids), Event.at < until)
        .order_by(Event.at, Event.id)
    )
    if since is not None:
        change_query = change_query.where(Change.detected_at >= since)
        event_query = event_query.where(Event.at >= since)
    if unreported_only:
        change_query = change_query.where(Change.reported_at.is_(None))
        event_query = event_query.where(Event.reported_at.is_(None))
    if run_id is not None:
        change_query = change_query.where(Change.run_id == run_id)
        event_query = event_query.where(Event.run_id == run_id)

    change_rows = [(row[0], row[1]) for row in session.execute(change_query)]
    from monitor.web.triage import muted_changes, states_for_changes  # the web app's triage (Flask-free)

    if unreported_only:  # what is mailed: changes of a statement muted in the web app stay out
        muted = muted_changes(session, [change for change, _ in change_rows])
        change_rows = [(change, url) for change, url in change_rows if change.id not in muted]
    triaged = states_for_changes(session, [change.id for change, _ in change_rows])
    evidence = _evidence(session, [change for change, _ in change_rows])
    reasons = _reasons(session, [change for change, _ in change_rows])
    changes = [
        ChangeItem(
            id=change.id,
            site=names[change.site_id],
            url=url,
            change=change.change,
            kind=change.kind,
            type=change.type,
            before_type=change.before_type,
            severity=change.severity,
            before=change.before,
            after=change.after,
            inline=_inline(change.inline),
            delta=describe_delta(change.delta or {}),
            detected_at=change.detected_at,
            evidence=evidence[change.id],
            reason=reasons.get(change.id, ""),
            triage=(f"{triaged[change.id].state} by {triaged[change.id].actor} {_when(triaged[change.id].at)}"
                    if change.id in triaged else ""),
        )
        for change, url in change_rows
    ]
    events = [
        EventItem(id=event.id, site=names[event.site_id], url=url, event=event.event,
                  severity=EVENT_SEVERITY.get(event.event, "low"), detail=event.detail or "", at=event.at)
        for event, url in session.execute(event_query)
    ]
    events = [event for event in events if event.severity in allowed]
    findings = [] if run_id is not None else _findings(session, names, allowed, since, until)

    return _assemble(
        since=since, until=until, generated_at=datetime.now(UTC), min_severity=min_severity,
        sites=tuple(sorted(names.values())), changes=changes, events=events, findings=findings, kind=kind,
        web_url=web_url.rstrip("/") if web_url else None,
    )


def restrict_report(ctx: ReportContext, sites: Iterable[str]) -> ReportContext:
    """The same report limited to some sellers (one recipient's digest), summary recomputed."""
    keep = set(sites)
    return _assemble(
        since=ctx.since, until=ctx.until, generated_at=ctx.generated_at, min_severity=ctx.min_severity,
        sites=tuple(site for site in ctx.sites if site in keep),
        changes=[item for item in ctx.changes if item.site in keep],
        events=[item for item in ctx.events if item.site in keep],
        findings=[item for item in ctx.findings if item.site in keep],
        kind=ctx.kind, web_url=ctx.web_url,
    )


def _sites(session: Session, names: Sequence[str] | None) -> list[Site]:
    query = select(Site).order_by(Site.name)
    if names:
        rows = list(session.scalars(query.where(Site.name.in_(list(names)))))
        unknown = sorted(set(names) - {site.name for site in rows})
        if unknown:
            raise ValueError(f"unknown site: {', '.join(unknown)}")
        return rows
    return list(session.scalars(query))


def _inline(value: Any) -> tuple[tuple[str, str], ...]:
    parts: list[tuple[str, str]] = []
    for part in value or ():
        if isinstance(part, list | tuple) and len(part) == 2 and part[0] in ("equal", "insert", "delete"):
            parts.append((str(part[0]), str(part[1])))
    return tuple(parts)


def _reasons(session: Session, changes: Sequence[Change]) -> dict[int, str]:
    """Each change's statement reason, from the snapshot that holds the statement (the new one, or the old one
    for a removal)."""
    wanted: dict[tuple[int, str], list[int]] = {}
    for change in changes:
        snapshot_id, text = ((change.after_snapshot_id, change.after) if change.after is not None
                             else (change.before_snapshot_id, change.before))
        if snapshot_id and text is not None:
            wanted.setdefault((snapshot_id, text), []).append(change.id)
    reasons: dict[int, str] = {}
    snapshot_ids = sorted({snapshot_id for snapshot_id, _text in wanted})
    for start in range(0, len(snapshot_ids), 500):
        rows = session.execute(
            select(StatementRow.snapshot_id, StatementRow.text, StatementRow.rule, StatementRow.matched)
            .where(StatementRow.snapshot_id.in_(snapshot_ids[start:start + 500]))
        )
        for snapshot_id, text, rule, matched in rows:
            for change_id in wanted.get((snapshot_id, text), ()):
                reasons.setdefault(change_id, describe_reason(rule, matched))
    return reasons


def _evidence(session: Session, changes: Sequence[Change]) -> dict[int, Evidence]:
    snapshot_ids = {sid for c in changes for sid in (c.before_snapshot_id, c.after_snapshot_id) if sid}
    snapshots = {
        s.id: s for s in session.scalars(select(Snapshot).where(Snapshot.id.in_(snapshot_ids)))
    } if snapshot_ids else {}
    fetch_ids = {s.fetch_id for s in snapshots.values()}
    fetches = {f.id: f for f in session.scalars(select(Fetch).where(Fetch.id.in_(fetch_ids)))} if fetch_ids else {}
    result: dict[int, Evidence] = {}
    for change in changes:
        # the snapshot that shows the change: the new one, or the old one when there is no new one
        snapshot = snapshots.get(change.after_snapshot_id or 0) or snapshots.get(change.before_snapshot_id or 0)
        fetch = fetches.get(snapshot.fetch_id) if snapshot else None
        warc = None
        if fetch is not None and fetch.warc_path:
            warc = fetch.warc_path + (f"#{fetch.warc_offset}" if fetch.warc_offset is not None else "")
        result[change.id] = Evidence(
            before_snapshot_id=change.before_snapshot_id,
            after_snapshot_id=change.after_snapshot_id,
            fetch_id=fetch.id if fetch else None,
            fetched_at=fetch.fetched_at if fetch else None,
            sha256=fetch.sha256 if fetch else None,
            http_status=fetch.status if fetch else None,
            screenshot=snapshot.screenshot_sha256 if snapshot else None,
            warc=warc,
        )
    return result


def _findings(session: Session, names: Mapping[int, str], allowed: Sequence[str], since: datetime | None,
              until: datetime) -> list[FindingItem]:
    rows = session.execute(
        select(Page.site_id, Page.url, Snapshot)
        .join(Snapshot, Snapshot.id == Page.current_snapshot_id)
        .where(Page.site_id.in_(list(names)), Page.state.in_(("active", "error")))
        .order_by(Page.url)
    )
    items: list[FindingItem] = []
    for site_id, url, snapshot in rows:
        for finding in snapshot.findings or ():
            if not isinstance(finding, Mapping):
                continue
            severity = str(finding.get("severity") or "low")
            if severity not in allowed:
                continue
            positions = [int(p) for p in finding.get("positions") or () if isinstance(p, int)]
            texts: tuple[str, ...] = ()
            if positions:
                texts = tuple(session.scalars(
                    select(StatementRow.text)
                    .where(StatementRow.snapshot_id == snapshot.id, StatementRow.position.in_(positions))
                    .order_by(StatementRow.position)
                ))
            items.append(FindingItem(
                site=names[site_id], url=url, code=str(finding.get("code") or "finding"), severity=severity,
                detail=str(finding.get("detail") or ""), snapshot_id=snapshot.id, since=snapshot.created_at,
                statements=texts,
                new=(since is None or snapshot.created_at >= since) and snapshot.created_at < until,
            ))
    items.sort(key=lambda f: (-severity_rank(f.severity), f.site, f.url, f.code))
    return items


def _assemble(*, since: datetime | None, until: datetime, generated_at: datetime, min_severity: str,
              sites: tuple[str, ...], changes: Sequence[ChangeItem], events: Sequence[EventItem],
              findings: Sequence[FindingItem], kind: str, web_url: str | None = None) -> ReportContext:
    """Nest the flat lists severity -> seller -> page and count them."""
    groups = _nest(changes)
    by_severity = tuple((severity, sum(1 for c in changes if c.severity == severity)) for severity in SEVERITY_ORDER)
    active = sorted({c.site for c in changes} | {e.site for e in events})
    by_seller = tuple(
        SellerSummary(
            site,
            tuple((sev, sum(1 for c in changes if c.site == site and c.severity == sev)) for sev in SEVERITY_ORDER),
            sum(1 for e in events if e.site == site),
        )
        for site in active
    )
    return ReportContext(
        since=since, until=until, generated_at=generated_at, min_severity=min_severity, sites=sites,
        changes=tuple(changes), events=tuple(events), findings=tuple(findings), groups=groups,
        by_severity=by_severity, by_seller=by_seller, kind=kind, web_url=web_url,
    )


def _nest(changes: Iterable[ChangeItem]) -> tuple[SeverityGroup, ...]:
    nested: dict[str, dict[str, dict[str, list[ChangeItem]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for item in changes:
        nested[item.severity][item.site][item.url].append(item)
    return tuple(
        SeverityGroup(severity, tuple(
            SellerGroup(site, tuple(PageGroup(url, tuple(items)) for url, items in sorted(pages.items())))
            for site, pages in sorted(nested[severity].items())
        ))
        for severity in SEVERITY_ORDER if severity in nested
    )


# --- plain wording of deltas --------------------------------------------------------------------------


def _days(value: Any) -> str:
    return "no stated period" if value is None else f"{value} days"


def _word(value: Any) -> str:
    if value is None:
        return "unstated"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _pair(value: Any) -> tuple[Any, Any] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return None


def describe_delta(delta: Mapping[str, Any]) -> tuple[str, ...]:
    """State a change's structured delta plainly, in a fixed order.

    >>> describe_delta({"days": [90, 30], "refund": ["full", "partial"], "conditions_added": ["less shipping"]})
    ('90 -> 30 days', 'refund full -> partial', 'conditions added: less shipping')
    """
    lines: list[str] = []
    if pair := _pair(delta.get("days")):
        before, after = pair
        if isinstance(before, int) and isinstance(after, int):
            lines.append(f"{before} -> {after} days")
        else:
            lines.append(f"{_days(before)} -> {_days(after)}")
    if pair := _pair(delta.get("lifetime")):
        lines.append("lifetime guarantee dropped" if pair[0] and not pair[1] else "lifetime guarantee added")
    if pair := _pair(delta.get("cycle_days")):
        before_cycle, after_cycle = (f"every {days} days" if days is not None else "no stated cycle" for days in pair)
        lines.append(f"auto-ship {before_cycle} -> {after_cycle}")
    if pair := _pair(delta.get("refund")):
        lines.append(f"refund {_word(pair[0])} -> {_word(pair[1])}")
    for key, label in (("conditions_added", "conditions added"), ("conditions_removed", "conditions removed")):
        if delta.get(key):
            lines.append(f"{label}: {_word(delta[key])}")
    if delta.get("terms_added"):
        lines.append(f"disease terms added: {_word(delta['terms_added'])}")
    elif delta.get("terms"):
        lines.append(f"disease terms: {_word(delta['terms'])}")
    if delta.get("serious_terms"):
        lines.append(f"serious disease: {_word(delta['serious_terms'])}")
    elif delta.get("serious") is True:
        lines.append("serious disease named")
    if pair := _pair(delta.get("verbatim")):
        lines.append("DSHEA wording no longer verbatim" if pair[0] is not False and pair[1] is False
                     else "DSHEA wording now verbatim" if pair[1] else f"verbatim {_word(pair[0])} -> "
                     f"{_word(pair[1])}")
    for code in [*delta.get("worse", ()), *delta.get("better", ()), *delta.get("reasons", ())]:
        if code in REASON_TEXT:
            lines.append(REASON_TEXT[code])
    return tuple(dict.fromkeys(lines))


# --- rendering ----------------------------------------------------------------------------------------


def templates_dir() -> Path:
    """The top-level ``templates/`` folder (see monitor.resources)."""
    return resources.templates_dir()


def report_subject(ctx: ReportContext) -> str:
    """``"[claimwatch] 2 high, 5 medium changes at 3 sellers"``; events and empty periods say so."""
    counts = [f"{count} {severity}" for severity, count in ctx.by_severity if count]
    sellers = f"{ctx.seller_count} seller{'s' if ctx.seller_count != 1 else ''}"
    if ctx.kind == "alert" and ctx.seller_count == 1:
        sellers = ctx.by_seller[0].site  # an alert is about one seller: name it
    events = f"{len(ctx.events)} page event{'s' if len(ctx.events) != 1 else ''}"
    prefix = "[claimwatch] ALERT:" if ctx.kind == "alert" else "[claimwatch]"
    if counts:
        noun = "change" if len(ctx.changes) == 1 else "changes"
        subject = f"{prefix} {', '.join(counts)} {noun} at {sellers}"
        return f"{subject}; {events}" if ctx.events else subject
    if ctx.events:
        return f"{prefix} {events} at {sellers}"
    return f"{prefix} no changes {_period(ctx)}"


def _period(ctx: ReportContext) -> str:
    until = _when(ctx.until)
    return f"{_when(ctx.since)} to {until}" if ctx.since else f"up to {until}"


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _link(url: str | None) -> str | None:
    """The URL when it is safe to make it a link (http/https only), else None: it is shown as text."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in LINK_SCHEMES else None


def _short(value: str | None, length: int = 12) -> str:
    return (value or "")[:length]


def _environment(directory: Path) -> Any:
    import jinja2

    # One environment for both parts; autoescape on for every template, whatever its extension.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = _when
    env.filters["link"] = _link
    env.filters["short"] = _short
    env.globals["severity_colours"] = SEVERITY_COLOURS
    env.globals["severity_order"] = SEVERITY_ORDER
    return env


def render_report(ctx: ReportContext, templates: Path | None = None, *,
                  max_html_bytes: int | None = None) -> RenderedReport:
    """Render one context into a subject, an HTML part (CSS inlined) and a plain-text part.

    With ``max_html_bytes`` (mail passes ``MAIL_HTML_LIMIT``) a report whose HTML would be larger is
    abridged: the summary counts everything, the most severe changes are listed as far as they fit, and
    both parts say how to get the full report (``RenderedReport.extra["abridged"]``).
    """
    env = _environment(templates or templates_dir())
    subject = report_subject(ctx)
    values: dict[str, Any] = {"ctx": ctx, "subject": subject, "period": _period(ctx), "groups": ctx.groups,
                              "sellers": ctx.by_seller, "abridged": None}
    page = _html(env, values)
    if max_html_bytes is not None and mailed_size(page) > max_html_bytes:
        values = _abridged_values(env, ctx, values, max_html_bytes)
        page = _html(env, values)
    # The text part is escaped like every template, then unescaped once: text/plain shows entities
    # literally, and unescape(escape(s)) == s for any scraped string.
    text = html.unescape(env.get_template(TEXT_TEMPLATE).render(values))
    extra = {"abridged": values["abridged"]} if values["abridged"] else {}
    return RenderedReport(subject=subject, html=page, text=text, extra=extra)


def mailed_size(html_part: str) -> int:
    """Bytes of an HTML part as mailed: UTF-8 with CRLF line ends (before any transfer encoding)."""
    return len(html_part.encode("utf-8")) + html_part.count("\n")


def _html(env: Any, values: Mapping[str, Any]) -> str:
    import css_inline

    raw = env.get_template(HTML_TEMPLATE).render(values)
    return str(css_inline.inline(raw, keep_style_tags=False, load_remote_stylesheets=False))


def _abridged_values(env: Any, ctx: ReportContext, values: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """The template values of the largest abridged report that fits ``limit``: as many seller rows as fit
    with no change listed, then as many of the most severe changes as fit with those rows."""
    ranked = sorted(ctx.changes, key=lambda c: (-severity_rank(c.severity), c.detected_at, c.id))
    worst_first = sorted(ctx.by_seller, key=lambda s: ([-count for _, count in s.counts], -s.events, s.site))
    command = full_report_command(ctx)

    def view(changes: int, sellers: int) -> dict[str, Any]:
        kept = {seller.site for seller in worst_first[:sellers]}
        note = Abridgement(changes, len(ranked), sellers, len(worst_first), len(ctx.events), len(ctx.findings),
                           command)
        return {**values, "groups": _nest(ranked[:changes]),
                "sellers": tuple(s for s in ctx.by_seller if s.site in kept), "abridged": note}

    def fits(candidate: dict[str, Any]) -> bool:
        return mailed_size(_html(env, candidate)) <= limit

    sellers = _largest(len(worst_first), lambda n: fits(view(0, n)))
    changes = _largest(len(ranked), lambda k: fits(view(k, sellers)))
    return view(changes, sellers)


def _largest(high: int, fits: Callable[[int], bool]) -> int:
    """The largest n in [0, high] for which ``fits(n)`` holds, ``fits`` holding for every smaller n too
    (0 when none does)."""
    if fits(high):
        return high
    low = 0  # invariant: fits(low) or low == 0; not fits(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def full_report_command(ctx: ReportContext) -> str:
    """The ``claimwatch report`` command that shows every change and event of ``ctx``, reported or not.

    >>> full_report_command(ReportContext(since=datetime(2026, 5, 3, 7, tzinfo=UTC), until=datetime.now(UTC),
    ...     generated_at=datetime.now(UTC), min_severity="medium", sites=("acme",), changes=(), events=(),
    ...     findings=(), by_seller=(SellerSummary("acme", (), 1),)))
    'claimwatch report --since 2026-05-03T07:00:00Z --site acme --min-severity medium --out report.html'
    """
    moments = [c.detected_at for c in ctx.changes] + [e.at for e in ctx.events]
    start = ctx.since or min(moments, default=ctx.until)
    words = ["claimwatch", "report", "--since", start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]
    if len(ctx.by_seller) <= 3:  # a handful of sellers are named; more would make a command nobody types
        for seller in ctx.by_seller:
            words += ["--site", seller.site]
    if ctx.min_severity != "info":
        words += ["--min-severity", ctx.min_severity]
    return shlex.join([*words, "--out", "report.html"])
