"""StorePipeline: one transaction per page through ``monitor.store.store_page``.

Scrapy-free: it runs in the page workers (``pipelines.chain``), one engine per worker process, opened
with ``open()`` and disposed with ``close()``.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crawler.items import PageItem
from monitor.db import WriteLock, checkpoint, defer_checkpoints, make_engine, make_session_factory
from monitor.store import FetchResult, PageContent, StoreOutcome, StoreRules, prepare_content, store_page

# commits between this worker's WAL checkpoints (a new page writes ~10 pages of WAL: SQLite's own
# checkpoint, every 1,000 pages of WAL, came about every 100 commits)
CHECKPOINT_EVERY = 200


class StorePipeline:
    def __init__(self, db_url: str, rules: StoreRules, *, site_id: int, report_new_pages: bool = False) -> None:
        self.db_url = db_url
        self.rules = rules
        self.site_id = site_id
        self.report_new_pages = report_new_pages
        self.sessions: sessionmaker[Session] | None = None
        self.lock = WriteLock(None)
        self.checkpoints = False  # this worker checkpoints SQLite's WAL itself, outside the write lock
        self.commits = 0

    def open(self) -> None:
        engine = make_engine(self.db_url)
        self.checkpoints = defer_checkpoints(engine)
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
                outcome = self._store(result, item.content)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
        item.outcome = outcome.outcome
        # the body is stored; drop it so the item stays small
        item.body = None
        item.content = None
        return item

    def _store(self, result: FetchResult, content: PageContent | None) -> StoreOutcome:
        """One page's transaction, holding the write lock from its first statement to its commit only: the
        session and its pooled connection are made before (nothing is locked in the database until the
        first write, where SQLite's driver begins the transaction) and handed back after."""
        assert self.sessions is not None
        with self.sessions() as session:
            session.connection()
            with self.lock.held():
                try:
                    outcome = store_page(session, result, content, self.rules,
                                         report_new_pages=self.report_new_pages)
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        self.commits += 1
        if self.checkpoints and self.commits % CHECKPOINT_EVERY == 0:
            engine = self.sessions.kw["bind"]
            with engine.connect() as connection:
                checkpoint(connection.connection.driver_connection)
        return outcome
