"""ArchivePipeline: the raw body's SHA-256 (its key in the body table) and a WARC record of every fetch.

One ``monitor.warc.WarcArchive`` per crawl process, opened when the spider opens and closed when it
closes; each item gets ``warc_path`` (relative to the data folder) and ``warc_offset`` (its response
record, or the ``metadata`` record of a fetch that got no response) for the fetch row. When the crawl
finished, pages that got a high or medium change are photographed (``monitor.screenshots``) in a worker
thread, in one browser session, before the process exits.
"""

from __future__ import annotations

import logging
from pathlib import Path

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads

from crawler.items import PageItem
from monitor.config import Settings, load_settings
from monitor.screenshots import capture_run_screenshots
from monitor.store import sha256_hex
from monitor.warc import DEFAULT_MAX_BYTES, HttpExchange, WarcArchive

log = logging.getLogger(__name__)


class ArchivePipeline:
    def __init__(self, settings: Settings | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 screenshots: bool = False) -> None:
        self.settings = settings
        self.max_bytes = max_bytes
        self.screenshots = screenshots
        self.archive: WarcArchive | None = None
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        pipeline = cls(
            load_settings(),
            max_bytes=crawler.settings.getint("CLAIMWATCH_WARC_MAX_BYTES", DEFAULT_MAX_BYTES),
            screenshots=crawler.settings.getbool("CLAIMWATCH_SCREENSHOTS_ENABLED", True),
        )
        crawler.signals.connect(pipeline.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    # signal handlers, not Scrapy's open_spider/close_spider hooks (those would run a second time)
    def spider_opened(self, spider: Spider) -> None:
        if self.settings is None:
            return
        plan = spider.plan  # type: ignore[attr-defined]
        self.run_id = plan.run_id
        self.archive = WarcArchive(Path(self.settings.data_dir), prefix=f"{plan.site}-run{plan.run_id}",
                                   max_bytes=self.max_bytes, operator=self.settings.contact)

    async def spider_closed(self, spider: Spider, reason: str = "finished") -> None:
        if self.archive is not None:
            self.archive.close()
            self.archive = None
        if not (self.screenshots and reason == "finished" and self.settings and self.run_id is not None):
            return
        # sync Playwright cannot run on the reactor's (asyncio) thread; the process waits for the worker
        try:
            taken = await maybe_deferred_to_future(
                threads.deferToThread(capture_run_screenshots, self.settings, self.run_id)
            )
        except Exception as exc:  # noqa: BLE001 - missing screenshots must not fail a finished crawl
            log.error("screenshots failed: %s", exc)
            return
        if taken:
            log.info("took %d screenshots", taken)

    def process_item(self, item: PageItem) -> PageItem:
        if item.body is not None and item.status is not None and item.status < 300:
            item.sha256 = sha256_hex(item.body)
        if self.archive is None:
            return item
        if item.status is not None:
            location = self.archive.write_exchange(HttpExchange(
                url=item.response_url or item.final_url or item.url,
                status=item.status,
                body=item.body or b"",
                fetched_at=item.fetched_at,
                response_headers=item.raw_headers or list(item.headers.items()),
                request_headers=item.request_headers,
                protocol=item.protocol or "HTTP/1.1",
                rendered=item.rendered,
            ))
        elif item.error:
            location = self.archive.write_error(item.url, item.error, item.fetched_at)
        else:
            return item
        item.warc_path, item.warc_offset = location.path, location.offset
        return item
