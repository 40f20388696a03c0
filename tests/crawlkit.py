"""Helpers for crawl tests: set up a site, crawl it through the real CLI, read back what was stored."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from click.testing import Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.items import PageItem
from monitor.db import make_engine, make_session_factory
from monitor.models import Body, Change, CrawlRun, Event, Fetch, Page, Snapshot

T = TypeVar("T")


@dataclass
class Counts:
    pages: int
    fetches: int
    snapshots: int
    bodies: int
    changes: int
    events: int


def counts(db_url: str) -> Counts:
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            def n(model: type) -> int:
                return int(session.scalar(select(func.count()).select_from(model)) or 0)

            return Counts(n(Page), n(Fetch), n(Snapshot), n(Body), n(Change), n(Event))
    finally:
        engine.dispose()


def page_urls(db_url: str) -> dict[str, str]:
    """URL path (with query) -> page state."""
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            rows = session.execute(select(Page.url, Page.state)).all()
    finally:
        engine.dispose()
    return {url.split("/", 3)[3] if url.count("/") >= 3 else url: state for url, state in rows}


def rows(db_url: str, model: type[T]) -> list[T]:
    """Every row of a model, oldest first, detached from its session."""
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            found = list(session.scalars(select(model).order_by(model.id)))  # type: ignore[attr-defined]
            for row in found:
                session.expunge(row)
            return found
    finally:
        engine.dispose()


def fetches(db_url: str) -> list[Fetch]:
    return rows(db_url, Fetch)


def lease_holders(db_url: str) -> list[str]:
    """Who holds a site lease now (empty: no site is leased)."""
    from monitor.models import SiteLease

    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            return list(connection.scalars(select(SiteLease.holder)))
    finally:
        engine.dispose()


def runs(db_url: str) -> list[CrawlRun]:
    return rows(db_url, CrawlRun)


def setup_site(run_cli: Callable[..., Result], db: str, name: str, url: str, *extra: str) -> None:
    assert run_cli("init", db=db).exit_code == 0
    result = run_cli("sites", "add", name, "--url", url, *extra, db=db)
    assert result.exit_code == 0, result.stderr


def crawl(run_cli: Callable[..., Result], db: str, *extra: str, ok: bool = True) -> Result:
    result = run_cli("crawl", *extra, db=db)
    if ok:
        assert result.exit_code == 0, result.stderr + result.stdout
    return result


def start_slow_crawl(run_cli: Callable[..., Result], db: str, server: Any, data_dir: Path, *,
                     stderr: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """Crawl the fixture shop with its 30 product pages slowed down, in a `claimwatch crawl` subprocess of
    its own session (a test can kill it and its children), so that a test can act while it is midway."""
    for n in range(1, 31):
        server.delays[f"/products/p{n:02d}.html"] = 0.15
    setup_site(run_cli, db, "shop", f"{server.url}/products/", "--allow", "/products/")
    env = {**os.environ, "CLAIMWATCH_DATA": str(data_dir), "CLAIMWATCH_THROTTLE_START_DELAY": "0.05"}
    return subprocess.Popen([sys.executable, "-m", "monitor.cli", "--db", db, "crawl"], env=env,
                            stdout=subprocess.DEVNULL, stderr=stderr, text=True, start_new_session=True)


def pool_processes(pid: int) -> list[int]:
    """The analysis pool's processes under a crawl process."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            found = [int(child) for child in children.read().split()]
    except OSError:
        return []
    pool = []
    for child in found:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                if b"spawn_main" in cmdline.read():
                    pool.append(child)
        except OSError:
            continue
    return pool


def shop_database(db_url: str) -> tuple[Engine, sessionmaker[Session], int]:
    """A database upgraded to head with one site, "shop" on http://127.0.0.1:1/: its engine, sessions and
    the site's id (for tests that drive the page chain or the store directly, without a crawl)."""
    from monitor.db import upgrade
    from monitor.models import Site
    from monitor.sites import upsert_sites
    from monitor.watchlist import SiteSpec

    engine = make_engine(db_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        upsert_sites(session, [SiteSpec("shop", ("http://127.0.0.1:1/",))])
        site_id = session.scalars(select(Site.id)).one()
    return engine, sessions, site_id


def shop_page(name: str, status: int = 200,
              text: str = "Supports healthy joints as part of your daily routine.*") -> PageItem:
    """A fetched HTML page of the "shop" site, as the spider hands it to the page chain."""
    from datetime import UTC, datetime

    url = f"http://127.0.0.1:1/{name}"
    return PageItem(url=url, final_url=url, status=status, headers={"content-type": "text/html"},
                    body=f"<html><body><p>{text}</p></body></html>".encode(), fetched_at=datetime.now(UTC),
                    site="shop", run=None)


class PagePipelines:
    """The crawl's four item pipelines (archive -> normalise -> extract -> store) run on items directly,
    without Scrapy's engine (no crawl, no network): what the crawl process does with each fetched page.
    Extraction runs in the calling thread (``crawl_workers=0``) unless ``settings`` says otherwise."""

    def __init__(self, settings: Any, site_id: int, *, site: str = "shop", run_id: int = 0) -> None:
        from monitor.crawlplan import CrawlPlan
        from pipelines.archive import ArchivePipeline
        from pipelines.extract import ExtractPipeline
        from pipelines.normalize import NormalizePipeline
        from pipelines.services import PageServices
        from pipelines.store import StorePipeline

        self.services = PageServices(settings)
        plan = CrawlPlan(site=site, site_id=site_id, run_id=run_id, start_urls=["http://127.0.0.1:1/"],
                         allow=[], max_pages=1000, render_js=False)
        self.archive = ArchivePipeline(self.services, f"{site}-run{run_id}")
        self.normalize = NormalizePipeline(self.services)
        self.extract = ExtractPipeline(self.services)
        self.store = StorePipeline(self.services, plan)

    def process(self, item: PageItem) -> PageItem:
        import asyncio

        async def chain() -> PageItem:
            done = await self.archive.process_item(item)
            done = await self.normalize.process_item(done)
            done = await self.extract.process_item(done)
            return await self.store.process_item(done)

        return asyncio.run(chain())

    def close(self) -> None:
        import asyncio

        asyncio.run(self.archive.close_spider())
        self.services.close()
