"""StorePipeline: one transaction per page through ``monitor.store.store_page``.

Scrapy-free: it runs in the page workers (``pipelines.chain``), one engine per worker process, opened
with ``open()`` and disposed with ``close()``.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from crawler.items import PageItem
from monitor.config import DEFAULT_BUSY_TIMEOUT
from monitor.db import WriteLock, checkpoint, defer_checkpoints, make_engine
from monitor.store import FetchResult, PageContent, StoreOutcome, StoreRules, prepare_content, store_page

# commits between this worker's WAL checkpoints (a new page writes ~10 pages of WAL: SQLite's own
# checkpoint, every 1,000 pages of WAL, came about every 100 commits)
CHECKPOINT_EVERY = 200


class StorePipeline:
    def __init__(self, db_url: str, rules: StoreRules, *, site_id: int, report_new_pages: bool = False,
                 busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.db_url = db_url
        self.busy_timeout = busy_timeout
        self.rules = rules
        self.site_id = site_id
        self.report_new_pages = report_new_pages
        self.engine: Engine | None = None
        self.connection: Connection | None = None  # held for the worker's life (made again if it breaks)
        self.lock = WriteLock(None)
        self.checkpoints = False  # this worker checkpoints SQLite's WAL itself, outside the write lock
        self.commits = 0

    def open(self) -> None:
        self.engine = make_engine(self.db_url, busy_timeout=self.busy_timeout)
        self.checkpoints = defer_checkpoints(self.engine)
        self.lock = WriteLock.for_engine(self.engine)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None
        self.lock.close()

    def _connection(self) -> Connection:
        assert self.engine is not None, "StorePipeline not opened"
        if self.connection is None or self.connection.closed or self.connection.invalidated:
            if self.connection is not None:
                self.connection.close()
            self.connection = self.engine.connect()
        return self.connection

    def process_item(self, item: PageItem) -> PageItem:
        self.store(item, self.prepare(item))
        return item

    def prepare(self, item: PageItem) -> FetchResult:
        """What can be done before the page's transaction: its fetch record, and a new snapshot's rows."""
        assert self.engine is not None, "StorePipeline not opened"
        result = FetchResult(
            site_id=self.site_id, run_id=item.run, url=item.url, fetched_at=item.fetched_at,
            final_url=item.final_url, status=item.status, error=item.error,
            content_type=item.headers.get("content-type"), body=item.body, sha256=item.sha256,
            elapsed_ms=item.elapsed_ms, etag=item.headers.get("etag"),
            last_modified=item.headers.get("last-modified"), not_modified=item.not_modified,
            redirect_status=item.redirect_status, skipped=item.skipped, warc_path=item.warc_path,
            warc_offset=item.warc_offset, alias_of=item.alias_of, offsite_target=item.offsite_target,
        )
        if item.content is not None and item.content.statements is not None:
            prepare_content(item.content, item.body, self.engine.dialect)  # before the lock: see its docstring
        return result

    def store(self, item: PageItem, result: FetchResult, *, wait: bool = True) -> bool:
        """Store a prepared page (``item.outcome`` set); with ``wait=False``, False at once when another
        writer holds the write lock (nothing done: call again)."""
        # Two workers may create the same page row at once (a redirect target also linked directly): the
        # later transaction fails on the unique (site, url) key and, run again, finds the row the other made.
        # A connection the server dropped (a PostgreSQL restart) fails the page's first attempt only.
        for attempt in (1, 2):
            try:
                outcome = self._store(result, item.content, wait=wait or attempt == 2)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        if outcome is None:
            return False
        item.outcome = outcome.outcome
        # the body is stored; drop it so the item stays small
        item.body = None
        item.content = None
        return True

    def _store(self, result: FetchResult, content: PageContent | None, *, wait: bool = True) -> StoreOutcome | None:
        """One page's transaction, holding the write lock from its first statement to its commit only.

        On the worker's one connection, held for its life, with a Session joined to the transaction for
        the ORM work some pages need (events, changes): checking a pooled connection out and in, and the
        Session's own transaction, cost about a third of a new page's store. Nothing is locked in the
        database until the first write (where SQLite's driver begins the transaction). None, with
        ``wait=False``, when another writer holds the lock."""
        connection = self._connection()
        try:
            with self.lock.held(wait) as held:
                if not held:
                    return None
                transaction = connection.begin()
                session = Session(bind=connection, expire_on_commit=False, autoflush=False)
                try:
                    outcome = store_page(session, result, content, self.rules,
                                         report_new_pages=self.report_new_pages)
                    session.flush()
                    transaction.commit()
                except BaseException:
                    transaction.rollback()
                    raise
                finally:
                    session.close()
        except DBAPIError as exc:
            if exc.connection_invalidated:  # the server went away: a new connection for the next page
                connection.close()
            raise
        self.commits += 1
        if self.checkpoints and self.commits % CHECKPOINT_EVERY == 0:
            checkpoint(connection.connection.driver_connection)
        return outcome
