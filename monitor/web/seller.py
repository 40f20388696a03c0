"""A seller's page in the web app: its pages, current statements by kind, standing findings, last and next
crawl, recent errors (Flask-free)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.models import CrawlRun, Fetch, Page, Site, StatementRow
from monitor.report import FindingItem, _findings
from monitor.statements import KINDS, SEVERITIES, severity_rank
from monitor.status import next_run_times
from monitor.web.crawls import running_crawl

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # findings of current snapshots, whenever they appeared


@dataclass(frozen=True, slots=True)
class PageLine:
    page: Page
    statements: int


@dataclass(frozen=True, slots=True)
class CurrentStatement:
    page_id: int
    url: str
    kind: str
    type: str
    severity: str
    text: str


@dataclass(frozen=True, slots=True)
class SellerView:
    site: Site
    pages: tuple[PageLine, ...]
    statements: dict[str, list[CurrentStatement]]  # kind -> statements, the most severe first
    findings: tuple[FindingItem, ...]
    runs: tuple[CrawlRun, ...]  # newest first
    next_run: datetime | None
    crawling: str | None
    errors: tuple[tuple[Fetch, str], ...]  # recent failed fetches with their URL


def seller_view(session: Session, name: str, *, statements_limit: int = 2000) -> SellerView | None:
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        return None
    counts = dict(session.execute(
        select(Page.id, func.count(StatementRow.id)).outerjoin(StatementRow, StatementRow.snapshot_id ==
                                                               Page.current_snapshot_id)
        .where(Page.site_id == site.id).group_by(Page.id)).all())
    pages = tuple(PageLine(page, int(counts.get(page.id, 0)))
                  for page in session.scalars(select(Page).where(Page.site_id == site.id).order_by(Page.url)))
    grouped: dict[str, list[CurrentStatement]] = defaultdict(list)
    rows = session.execute(
        select(Page.id, Page.url, StatementRow.kind, StatementRow.type, StatementRow.severity, StatementRow.text)
        .join(StatementRow, StatementRow.snapshot_id == Page.current_snapshot_id)
        .where(Page.site_id == site.id, Page.state.in_(("active", "error")))
        .order_by(Page.url, StatementRow.position).limit(statements_limit))
    for page_id, url, kind, type_, severity, text in rows:
        grouped[kind].append(CurrentStatement(page_id, url, kind, type_, severity, text))
    for items in grouped.values():
        items.sort(key=lambda s: -severity_rank(s.severity))
    ordered = {kind: grouped[kind] for kind in KINDS if kind in grouped}
    findings = tuple(_findings(session, {site.id: site.name}, SEVERITIES, None, FAR_FUTURE))
    runs = tuple(session.scalars(select(CrawlRun).where(CrawlRun.site_id == site.id)
                                 .order_by(CrawlRun.id.desc()).limit(10)))
    errors = tuple(session.execute(
        select(Fetch, Page.url).join(Page, Page.id == Fetch.page_id)
        .where(Page.site_id == site.id, Fetch.error.is_not(None))
        .order_by(Fetch.fetched_at.desc()).limit(20)).all())
    return SellerView(site, pages, ordered, findings, runs, next_run_times(session).get(f"crawl:{site.name}"),
                      running_crawl(session, site.id), errors)
