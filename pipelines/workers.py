"""PageWorkersPipeline: runs the page chain (archive -> normalise -> extract -> store) in worker processes.

Scrapy's reactor is one thread: run in it, a page's archiving, parsing, extraction and database work
(~5 ms) would stop the downloads for as long, and one core would do everything. Instead the Scrapy
process only fetches, and ``CLAIMWATCH_CRAWL_WORKERS`` processes (default 2; a fresh interpreter that
inherits neither the reactor nor its threads, started by ``python -m crawler`` before it loads Scrapy so
that its imports overlap Scrapy's, and forks of it made once it has loaded the chain; fed by
``pipelines.pagepool`` from the event loop, without helper threads) each take the next page as they free
up. The item's
``process_item`` waits for its page to be stored, so Scrapy's own limits (responses in progress) keep the
queue short, a page counts as done only once it is in the database, and the spider closes only when
every page is stored. With ``CLAIMWATCH_CRAWL_WORKERS=0`` the chain runs in this process.

When the crawl closes, one worker photographs the pages that got a high or medium change
(``monitor.screenshots``, one browser session) and finishes the run (its counts taken from what was
stored), then the workers stop, closing their WARC files. A worker that dies (killed, out of memory) fails the
run: the pages it had not stored are not lost from the site's history, the next crawl fetches them again
in full.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.reactor import is_asyncio_reactor_installed
from twisted.internet import threads

from crawler.items import PageItem
from monitor.config import Settings, load_settings
from monitor.storage import storage_problem
from pipelines.chain import PRELOAD, ChainConfig, PageChain, PageStored, RunEnd, close_run, serve_pages
from pipelines.pagepool import PagePool, WorkerDied, release_prestarted

log = logging.getLogger(__name__)


class PageWorkersPipeline:
    def __init__(self, settings: Settings, *, log_file: str | None = None,
                 warc_max_bytes: int = 100 * 1024 * 1024, screenshots: bool = False) -> None:
        self.settings = settings
        self.db_url = settings.db_url
        self.workers = settings.crawl_workers
        self.log_file = log_file
        self.warc_max_bytes = warc_max_bytes
        self.screenshots = screenshots
        self.pool: PagePool | None = None
        self.chain: PageChain | None = None
        self.failure: str | None = None
        self.unstored = 0  # pages a worker could not store (each logged with its traceback)
        self.crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageWorkersPipeline:
        pipeline = cls(
            load_settings(),
            log_file=crawler.settings.get("LOG_FILE"),
            warc_max_bytes=crawler.settings.getint("CLAIMWATCH_WARC_MAX_BYTES", 100 * 1024 * 1024),
            screenshots=crawler.settings.getbool("CLAIMWATCH_SCREENSHOTS_ENABLED", True),
        )
        pipeline.crawler = crawler
        spider = getattr(crawler, "spider", None)
        if spider is not None and hasattr(spider, "plan"):
            pipeline.start(spider.plan)  # the workers start while Scrapy builds its engine
        crawler.signals.connect(pipeline.spider_opened, signal=signals.spider_opened)
        # the close reason ("finished", "shutdown"...) only comes with the signal
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def spider_opened(self, spider: Spider) -> None:
        if self.pool is None and self.chain is None:
            self.start(spider.plan)  # type: ignore[attr-defined]

    def start(self, plan: Any) -> None:
        """Start the page workers (or, with none, open the chain here) for the crawl ``plan``."""
        settings = self.settings
        config = ChainConfig(
            self.db_url, site_id=plan.site_id, report_new_pages=plan.report_new_pages,
            log_file=self.log_file, data_dir=Path(self.settings.data_dir),
            warc_prefix=f"{plan.site}-run{plan.run_id}", warc_max_bytes=self.warc_max_bytes,
            operator=settings.contact, error_threshold=settings.error_threshold,
            gone_threshold=settings.gone_threshold, flap_history=settings.flap_history,
            outage_confirmations=settings.outage_confirmations, outage_loss_share=settings.outage_loss_share,
            outage_min_statements=settings.outage_min_statements, db_busy_timeout=settings.db_busy_timeout,
        )
        if self.workers > 0 and (os.name != "posix" or not is_asyncio_reactor_installed()):
            # the pool is driven by the asyncio loop's file watching (POSIX pipes)
            log.warning("page workers need POSIX and Scrapy's asyncio reactor: pages are processed in "
                        "the crawl process")
            self.workers = 0
        if self.workers <= 0:
            release_prestarted()
            self.chain = PageChain(config)
            self.chain.open()
            return
        self.pool = PagePool(self.workers, serve_pages, (config,), preload=PRELOAD)
        self.pool.start(asyncio.get_event_loop())

    async def process_item(self, item: PageItem) -> PageItem:
        if self.failure is not None:
            raise DropItem(f"not stored: {self.failure}")
        try:
            if self.pool is None:
                assert self.chain is not None, "spider not opened"
                stored = self.chain.process(item)
            else:
                stored = await self.pool.submit(item)
        except WorkerDied as exc:
            self._fail(str(exc))
            raise DropItem(f"not stored: {self.failure}") from None
        except Exception as exc:
            problem = storage_problem(exc)
            if problem is not None:  # a locked, full or read-only database: the pages after it would fail too
                self._fail(f"stopped: a page could not be stored: {problem}", "storage failed")
                raise DropItem(f"not stored: {problem}") from None
            self.unstored += 1  # the database refused it: the run says so, the next crawl fetches it again
            raise
        self._stored(item, stored)
        return item

    def _stored(self, item: PageItem, stored: PageStored) -> None:
        if stored.problem is not None:  # recorded as an error fetch; the data folder takes no more records
            self._fail(f"stopped: {stored.problem}", "storage failed")
        item.outcome = stored.outcome
        item.body = None  # stored; keep the item small in Scrapy's memory
        item.content = None
        item.blocks = []

    def _fail(self, why: str, reason: str = "page worker died") -> None:
        if self.failure is not None:
            return
        self.failure = why
        log.error("%s: closing the crawl", why)
        if self.crawler is not None and self.crawler.engine is not None:
            asyncio.ensure_future(self.crawler.engine.close_spider_async(reason=reason))

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        plan: Any = getattr(spider, "plan", None)
        detail: str | None
        status, detail = "interrupted", reason or None
        if self.failure is not None:
            status, detail = "failed", self.failure
        elif reason == "finished":
            status, detail = "finished", None
            if self.unstored:
                detail = (f"{self.unstored} fetched page{'s' if self.unstored > 1 else ''} could not be stored "
                          "(see the log); the next crawl fetches them again")
        report_run_end(status, detail)
        photograph = self.screenshots and status == "finished"
        end = RunEnd(plan.run_id, status, detail, self.settings if photograph else None) if plan else None
        pool, self.pool = self.pool, None
        if pool is not None:
            if end is not None and pool.failure is None:
                # every page is stored: a worker (which has the database and no event loop to block)
                # photographs what changed and closes the run; this process never needs SQLAlchemy
                try:
                    await pool.submit(end)
                    end = None
                except Exception as exc:  # noqa: BLE001 - the run is closed here instead
                    log.error("closing the run in a page worker failed: %s", exc)
            pool.close()
        if self.chain is not None:
            self.chain.close()
            self.chain = None
        if end is not None:
            try:
                await maybe_deferred_to_future(threads.deferToThread(
                    close_run, end, self.db_url, busy_timeout=self.settings.db_busy_timeout))
            except Exception as exc:  # noqa: BLE001 - `claimwatch crawl` records the run from report_run_end
                log.error("could not close the run: %s", exc)


def report_run_end(status: str, detail: str | None) -> None:
    """Tell `claimwatch crawl` (``monitor.crawl.run_job``) how the run ended, on the progress pipe: it records
    the run itself when this process cannot (a locked or full database)."""
    sys.stdout.write(json.dumps({"run": {"status": status, "detail": detail}}) + "\n")
    sys.stdout.flush()
