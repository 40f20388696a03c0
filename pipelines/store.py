"""StorePipeline: one transaction per page (``monitor.store.store_page``), and the end of the site's run.

Last of the four pipelines. Each page's transaction runs on the crawl's storage thread
(``pipelines.services``), on its one connection, with a Session joined to the transaction for the ORM work.
A page counts as done only once it is stored, so the spider closes only when every page is.

When the site's crawl closes, screenshots are taken of the pages that got a high or medium change
(``monitor.runs.run_screenshots``, in a thread of its own), then the run is ended by ``monitor.runs.finish_run``
on the storage thread (its status and counts from what was stored) and the way it ended goes to
`claimwatch crawl` on the progress pipe. A database that takes no more writes (locked, full, read-only)
stops this site's crawl at once: the pages after it would fail too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from crawler.items import PageItem
from monitor.crawlplan import CrawlPlan
from monitor.storage import storage_problem
from monitor.store import FetchResult, PageContent, StoreOutcome, StoreRules, prepare_content, store_page
from pipelines.services import PageServices

log = logging.getLogger(__name__)


class StorePipeline:
    def __init__(self, services: PageServices, plan: CrawlPlan, crawler: Crawler | None = None) -> None:
        self.services = services
        self.plan = plan
        self.crawler = crawler
        settings = services.settings
        self.rules = StoreRules(settings.error_threshold, settings.gone_threshold, settings.flap_history,
                                settings.outage_rules)
        self.failure: str | None = None  # why this site's crawl was stopped
        self.unstored = 0  # pages the database refused (each logged with its traceback)
        self.changed = False  # a page of this run got a change: there may be screenshots to take

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        pipeline = cls(PageServices.from_crawler(crawler),
                       crawler.settings["CLAIMWATCH_PLAN"], crawler)
        # a page another pipeline raised on never reaches this one: the run still counts it
        crawler.signals.connect(pipeline.item_error, signal=signals.item_error)
        return pipeline

    def item_error(self, item: Any, response: Any = None, spider: Any = None, failure: Any = None) -> None:
        self.unstored += 1

    async def process_item(self, item: PageItem) -> PageItem:
        if self.failure is not None:
            raise DropItem(f"not stored: {self.failure}")
        try:
            outcome = await self.services.in_io(self.store, item)
        except Exception as exc:
            problem = storage_problem(exc)
            if problem is not None:  # a locked, full or read-only database: the pages after it would fail too
                self._fail(f"stopped: a page could not be stored: {problem}")
                raise DropItem(f"not stored: {problem}") from None
            self.unstored += 1  # the database refused it: the run says so, the next crawl fetches it again
            log.error("page %s not stored", item.url, exc_info=exc)
            raise DropItem(f"not stored: {type(exc).__name__}: {exc}") from None
        item.outcome = outcome.outcome
        self.changed = self.changed or outcome.changes > 0
        item.body = None  # stored; keep the item small in Scrapy's memory
        item.content = None
        item.blocks = []
        archived = archive_problem(item.error)
        if archived is not None:  # recorded as an error fetch; the data folder takes no more records
            self._fail(f"stopped: {archived}")
        return item

    def _fail(self, why: str) -> None:
        if self.failure is not None:
            return
        self.failure = why
        log.error("%s: closing the crawl of %s", why, self.plan.site)
        if self.crawler is not None and self.crawler.engine is not None:
            asyncio.ensure_future(self.crawler.engine.close_spider_async(reason="storage failed"))

    # --- on the storage thread ---------------------------------------------------------------------------

    def fetch_result(self, item: PageItem) -> FetchResult:
        return FetchResult(
            site_id=self.plan.site_id, run_id=item.run, url=item.url, fetched_at=item.fetched_at,
            final_url=item.final_url, status=item.status, error=item.error,
            content_type=item.headers.get("content-type"), body=item.body, sha256=item.sha256,
            elapsed_ms=item.elapsed_ms, etag=item.headers.get("etag"),
            last_modified=item.headers.get("last-modified"), not_modified=item.not_modified,
            redirect_status=item.redirect_status, skipped=item.skipped, warc_path=item.warc_path,
            warc_offset=item.warc_offset, alias_of=item.alias_of, offsite_target=item.offsite_target,
        )

    def store(self, item: PageItem) -> StoreOutcome:
        """The page's transaction. Two requests may create the same page row at once (a redirect target also
        linked directly): the later fails on the unique (site, url) key and, run again, finds the row. A
        connection the server dropped (a PostgreSQL restart) fails the page's first attempt only."""
        result = self.fetch_result(item)
        content: PageContent | None = item.content
        engine = self.services.engine
        if content is not None and content.statements is not None:
            prepare_content(content, item.body, engine.dialect)
        for attempt in (1, 2):
            connection = self.services.connection()
            try:
                with connection.begin(), Session(bind=connection, expire_on_commit=False,
                                                 autoflush=False) as session:
                    outcome = store_page(session, result, content, self.rules,
                                         report_new_pages=self.plan.report_new_pages)
                    session.flush()
                return outcome
            except IntegrityError:
                if attempt == 2:
                    raise
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    connection.close()
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    # --- the end of the site's crawl ---------------------------------------------------------------------

    async def close_spider(self) -> None:
        from monitor.runs import run_screenshots

        reason = "finished"
        if self.crawler is not None and self.crawler.stats is not None:
            reason = str(self.crawler.stats.get_value("finish_reason") or "finished")
        detail: str | None
        status, detail = "interrupted", reason or None
        if self.failure is not None:
            status, detail = "failed", self.failure
        elif reason == "finished":
            status, detail = "finished", None
            if self.unstored:
                detail = (f"{self.unstored} fetched page{'s' if self.unstored > 1 else ''} could not be stored "
                          "(see the log); the next crawl fetches them again")
        if self.services.settings.screenshots and status == "finished" and self.changed:
            # a thread of its own: screenshots (sync Playwright) take seconds, and other sites' pages are
            # still being stored meanwhile
            await asyncio.to_thread(run_screenshots, self.services.settings, self.plan.run_id)
        recorded = True
        try:
            await self.services.in_io(self.end, status, detail)
        except Exception as exc:  # noqa: BLE001 - `claimwatch crawl` records the run from the line below
            log.error("could not close run %d: %s", self.plan.run_id, exc)
            recorded = False
        report_run_end(self.plan.site, status, detail, recorded=recorded)

    def end(self, status: str, detail: str | None) -> None:
        """The run's end (``monitor.runs.finish_run``), on the storage thread's connection (after this site's
        pages, in order: no second connection waiting on the first's write lock)."""
        from monitor.runs import finish_run

        connection = self.services.connection()
        with connection.begin(), Session(bind=connection, expire_on_commit=False, autoflush=False) as session:
            finish_run(session, self.plan.run_id, status, detail)
            session.flush()


def archive_problem(error: str | None) -> str | None:
    """The storage problem (``monitor.storage``) of a fetch whose record could not be archived
    (``pipelines.archive``: "not archived: <why>"), or None: a full or read-only data folder stops the crawl,
    any other archiving failure is that page's alone."""
    if not error or "not archived: " not in error:
        return None
    problem = storage_problem(error.split("not archived: ", 1)[1])
    return f"cannot write the data folder: {problem}" if problem is not None else None


def report_run_end(site: str, status: str, detail: str | None, *, recorded: bool = True) -> None:
    """Tell `claimwatch crawl` (``monitor.crawl``) how a site's run ended, once it is closed, on the progress
    pipe: it records the run itself when this process could not (``recorded`` False: a locked or full
    database)."""
    run = {"status": status, "detail": detail, "recorded": recorded}
    sys.stdout.write(json.dumps({"site": site, "run": run}) + "\n")
    sys.stdout.flush()
