"""What one crawl of a site should fetch: its start URLs plus every known active page (so removed
pages are re-checked), each with the validators of its last fetch for conditional requests, and the hosts
that are the site's own (``monitor.hosts``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.hosts import HostPolicy
from monitor.urls import canonical_url

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from monitor.models import Site


@dataclass(frozen=True, slots=True)
class Seed:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_sha256: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class CrawlPlan:
    site: str
    site_id: int
    run_id: int
    start_urls: list[str]
    allow: list[str]
    max_pages: int
    render_js: bool
    seeds: list[Seed] = field(default_factory=list)
    report_new_pages: bool = False
    hosts: list[str] = field(default_factory=list)  # the watchlist's `hosts:` (start URLs' hosts are implied)

    def host_policy(self) -> HostPolicy:
        return HostPolicy.for_site(self.start_urls, self.hosts)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CrawlPlan:
        data: dict[str, Any] = json.loads(text)
        data["seeds"] = [Seed(**seed) for seed in data.get("seeds", [])]
        return cls(**data)

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        return path


def plan_crawl(session: Session, site: Site, run_id: int) -> CrawlPlan:
    """Seeds: start URLs first, then known pages that are not gone or moved.

    Conditional requests (304 = unchanged, nothing parsed) are only safe after a crawl that finished:
    a 304 page's links are not followed, so after an interrupted crawl every page is fetched in full
    to rediscover the part of the site the interrupted crawl never reached.
    """
    # imported here, not at the top: the spider reads plans, and the crawl process starts faster without
    # SQLAlchemy (its page workers do the database work)
    from sqlalchemy import exists, select

    from monitor.models import CrawlRun, Page
    previous = session.scalar(
        select(CrawlRun.status).where(CrawlRun.site_id == site.id, CrawlRun.id != run_id)
        .order_by(CrawlRun.id.desc()).limit(1)
    )
    conditional = previous == "finished"
    seeds: dict[str, Seed] = {canonical_url(url): Seed(canonical_url(url)) for url in site.start_urls}
    pages = session.scalars(
        select(Page).where(Page.site_id == site.id, Page.state.in_(("active", "error"))).order_by(Page.id)
    )
    policy = HostPolicy.for_site(site.start_urls, site.hosts or ())
    for page in pages:
        if not policy.allows_url(page.url):
            continue  # not the site's own (stored before the hosts were checked, or the hosts changed)
        if conditional:
            seeds[page.url] = Seed(page.url, page.etag, page.last_modified, page.last_sha256, page.fingerprint)
        else:
            seeds[page.url] = Seed(page.url, None, None, page.last_sha256, page.fingerprint)
    baseline_done = session.scalar(
        select(exists().where(CrawlRun.site_id == site.id, CrawlRun.status == "finished",
                              CrawlRun.id != run_id))
    )
    return CrawlPlan(
        site=site.name, site_id=site.id, run_id=run_id, start_urls=list(site.start_urls),
        allow=list(site.allow), max_pages=site.max_pages, render_js=site.render_js,
        seeds=list(seeds.values()), report_new_pages=bool(baseline_done), hosts=list(site.hosts or ()),
    )
