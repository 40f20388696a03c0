"""StorePipeline: one transaction per page through ``monitor.store.store_page``.

Scrapy-free: it runs in the page workers (``pipelines.chain``), one engine per worker process, opened
with ``open()`` and disposed with ``close()``.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crawler.items import PageItem
from monitor.db import WriteLock, make_engine, make_session_factory
from monitor.store import FetchResult, StoreRules, prepare_content, store_page


class StorePipeline:
    def __init__(self, db_url: str, rules: StoreRules, *, site_id: int, report_new_pages: bool = False) -> None:
        self.db_url = db_url
        self.rules = rules
        self.site_id = site_id
        self.report_new_pages = report_new_pages
        self.sessions: sessionmaker[Session] | None = None
        self.lock = WriteLock(None)

    def open(self) -> None:
        engine = make_engine(self.db_url)
        self.sessions = make_session_factory(engine)
        self.lock = WriteLock.for_engine(engine)

    def close(self) -> None:
        if self.sessions is not None:
            bind = self.sessions.kw.get("bind")
            if bind is not None:
                bind.dispose()
            self.sessions = None
        self.lock.close()

    def process_item(self, item: PageItem) -> PageItem:
        assert self.sessions is not None, "StorePipeline not opened"
        result = FetchResult(
            site_id=self.site_id, run_id=item.run, url=item.url, fetched_at=item.fetched_at,
            final_url=item.final_url, status=item.status, error=item.error,
            content_type=item.headers.get("content-type"), body=item.body, sha256=item.sha256,
            elapsed_ms=item.elapsed_ms, etag=item.headers.get("etag"),
            last_modified=item.headers.get("last-modified"), not_modified=item.not_modified,
            redirect_status=item.redirect_status, skipped=item.skipped, warc_path=item.warc_path,
            warc_offset=item.warc_offset,
        )
        if item.content is not None and item.content.statements is not None:
            bind = self.sessions.kw.get("bind")
            if bind is not None:
                prepare_content(item.content, item.body, bind.dialect)  # before the lock: see its docstring
        # Two workers may create the same page row at once (a redirect target also linked directly): the
        # later transaction fails on the unique (site, url) key and, run again, finds the row the other made.
        for attempt in (1, 2):
            try:
                with self.lock.held(), self.sessions.begin() as session:
                    outcome = store_page(session, result, item.content, self.rules,
                                         report_new_pages=self.report_new_pages)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
        item.outcome = outcome.outcome
        # the body is stored; drop it so the item stays small
        item.body = None
        item.content = None
        return item
