"""StorePipeline: one transaction per page through ``monitor.store.store_page``.

One engine for the whole crawl process, opened when the spider opens.
"""

from __future__ import annotations

from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from sqlalchemy.orm import Session, sessionmaker

from crawler.items import PageItem
from monitor.config import load_settings
from monitor.db import make_engine, make_session_factory
from monitor.runs import finish_run
from monitor.store import FetchResult, StoreRules, store_page


class StorePipeline:
    def __init__(self, db_url: str, rules: StoreRules) -> None:
        self.db_url = db_url
        self.rules = rules
        self.sessions: sessionmaker[Session] | None = None
        self.report_new_pages = False
        self.site_id = 0
        self.crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        settings = load_settings()
        pipeline = cls(
            settings.db_url,
            StoreRules(settings.error_threshold, settings.gone_threshold, settings.flap_history),
        )
        pipeline.crawler = crawler
        # the close reason ("finished", "shutdown"...) only comes with the signal
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self) -> None:
        self.sessions = make_session_factory(make_engine(self.db_url))
        plan = self.crawler.spider.plan  # type: ignore[union-attr]
        self.site_id = plan.site_id
        self.report_new_pages = plan.report_new_pages

    def spider_closed(self, spider: Spider, reason: str) -> None:
        plan = getattr(spider, "plan", None)
        if self.sessions is None:
            return
        if plan is not None:
            status = "finished" if reason == "finished" else "interrupted"
            with self.sessions.begin() as session:
                finish_run(session, plan.run_id, status, detail=None if reason == "finished" else reason)
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()
        self.sessions = None

    def process_item(self, item: PageItem) -> Any:
        assert self.sessions is not None, "spider not opened"
        result = FetchResult(
            site_id=self.site_id, run_id=item.run, url=item.url, fetched_at=item.fetched_at,
            final_url=item.final_url, status=item.status, error=item.error,
            content_type=item.headers.get("content-type"), body=item.body, sha256=item.sha256,
            elapsed_ms=item.elapsed_ms, etag=item.headers.get("etag"),
            last_modified=item.headers.get("last-modified"), not_modified=item.not_modified,
            redirect_status=item.redirect_status, skipped=item.skipped, warc_path=item.warc_path,
            warc_offset=item.warc_offset,
        )
        with self.sessions.begin() as session:
            store_page(session, result, item.content, self.rules, report_new_pages=self.report_new_pages)
        # the body is stored; drop it so the item stays small in Scrapy's memory
        item.body = None
        item.content = None
        return item
