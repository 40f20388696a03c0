"""The page chain: archive -> normalise -> extract -> store, the item pipeline run by the page workers.

Scrapy-free, so a worker process imports none of Scrapy: ``pipelines.workers.PageWorkersPipeline`` (the
Scrapy side) sends each fetched item through ``pipelines.pagepool`` to one of the crawl's worker
processes, each running ``serve_pages``. Each worker has its own database engine and its own WARC files; every
page is still one transaction. With ``CLAIMWATCH_CRAWL_WORKERS=0`` the same chain runs inside the Scrapy
process.

    >>> chain = PageChain(ChainConfig("sqlite:///claimwatch.db", site_id=1))  # doctest: +SKIP
    >>> chain.open(); chain.process(item).outcome  # doctest: +SKIP
    'new'
"""

from __future__ import annotations

import collections
import gc
import logging
import os
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only light imports here: the Scrapy process imports this module for ChainConfig and the worker entry
# points, and starts faster without lxml, SQLAlchemy and the extraction tables (the workers load them).
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from crawler.items import PageItem
    from monitor.config import Settings
    from monitor.store import FetchResult
    from pipelines.archive import ArchivePipeline
    from pipelines.extract import ExtractPipeline
    from pipelines.normalize import NormalizePipeline
    from pipelines.store import StorePipeline

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """What a page worker needs to know about its crawl (picklable: it crosses to the worker)."""

    db_url: str
    site_id: int
    report_new_pages: bool = False
    log_file: str | None = None  # the crawl's log: the worker's stderr goes there
    data_dir: Path | None = None  # WARC files go under it (None: no archive, as in unit tests)
    warc_prefix: str = "crawl"  # <site>-run<run>; each worker adds its process id
    warc_max_bytes: int = 100 * 1024 * 1024
    operator: str | None = None  # the contact address, in every WARC file's warcinfo record
    # monitor.store.StoreRules, as plain numbers
    error_threshold: int = 2
    gone_threshold: int = 2
    flap_history: int = 3
    outage_confirmations: int = 1
    outage_loss_share: float = 0.8
    outage_min_statements: int = 5
    db_busy_timeout: float = 30.0  # seconds a SQLite write waits for another writer (CLAIMWATCH_DB_BUSY_TIMEOUT)


@dataclass(frozen=True, slots=True)
class PageStored:
    """What a worker sends back for one page (the item itself stays with the worker); ``problem``: the
    page's record could not be archived because the data folder cannot be written (``monitor.storage``),
    which stops the crawl."""

    outcome: str | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class RunEnd:
    """Sent to one worker once every page is stored: photograph what changed, then close the run."""

    run_id: int
    status: str  # finished | interrupted | failed
    detail: str | None = None
    settings: Settings | None = None  # the screenshots' settings; None: no screenshots


class PageChain:
    """The four steps, in order, for one crawl (``worker``: this process's WARC files get its name)."""

    def __init__(self, config: ChainConfig, worker: str | None = None) -> None:
        from monitor.outage import OutageRules
        from monitor.store import StoreRules
        from pipelines.archive import ArchivePipeline
        from pipelines.extract import ExtractPipeline
        from pipelines.normalize import NormalizePipeline
        from pipelines.store import StorePipeline

        prefix = f"{config.warc_prefix}-{worker}" if worker else config.warc_prefix
        self.archive: ArchivePipeline = ArchivePipeline(config.data_dir, prefix=prefix,
                                                        max_bytes=config.warc_max_bytes, operator=config.operator)
        self.normalize: NormalizePipeline = NormalizePipeline()
        self.extract: ExtractPipeline = ExtractPipeline()
        outage = OutageRules(config.outage_confirmations, config.outage_loss_share, config.outage_min_statements)
        rules = StoreRules(config.error_threshold, config.gone_threshold, config.flap_history, outage)
        self.store: StorePipeline = StorePipeline(config.db_url, rules, site_id=config.site_id,
                                                  report_new_pages=config.report_new_pages,
                                                  busy_timeout=config.db_busy_timeout)
        self.pages = 0

    def open(self) -> None:
        self.archive.open()
        self.store.open()

    def close(self) -> None:
        self.store.close()
        self.archive.close()

    def process(self, item: PageItem) -> PageStored:
        stored = self.finish(self.prepare(item))
        assert stored is not None
        return stored

    def prepare(self, item: PageItem) -> Prepared:
        """Everything before the page's transaction: archive, normalise, extract, the rows to insert.

        A page that cannot be archived or analysed is still recorded: its fetch as an error saying why
        (the page's current snapshot stays; the next crawl tries again), the traceback in the log."""
        self.pages += 1
        try:
            item = self.extract.process_item(self.normalize.process_item(self.archive.process_item(item)))
        except Exception as exc:  # noqa: BLE001 - one page's failure is that page's, not the crawl's
            log.exception("page %s could not be analysed: recorded as an error", item.url)
            item.error = f"not analysed: {type(exc).__name__}: {exc}"[:1000]
            item.content, item.blocks = None, []
        return Prepared(item, self.store.prepare(item))

    def finish(self, prepared: Prepared, *, wait: bool = True) -> PageStored | None:
        """The page's transaction; with ``wait=False``, None at once when another worker is writing."""
        if not self.store.store(prepared.item, prepared.result, wait=wait):
            return None
        return PageStored(prepared.item.outcome, archive_problem(prepared.item.error))


def archive_problem(error: str | None) -> str | None:
    """The storage problem (``monitor.storage``) of a fetch whose record could not be archived
    (``pipelines.archive``: "not archived: <why>"), or None."""
    if not error or "not archived: " not in error:
        return None
    from monitor.storage import storage_problem

    problem = storage_problem(error.split("not archived: ", 1)[1])
    return f"cannot write the data folder: {problem}" if problem is not None else None


@dataclass(frozen=True, slots=True)
class Prepared:
    """A page through its CPU work, waiting for its transaction (``PageChain.prepare``)."""

    item: PageItem
    result: FetchResult


def close_run(end: RunEnd, db_url: str, engine: Engine | None = None, *, busy_timeout: float = 30.0) -> int:
    """Once every page is stored: take the run's screenshots (when asked), then record how the run ended
    (its status and counts); returns the screenshots taken. Runs in a page worker (on its store's
    ``engine``), or in a thread of the crawl process when it has none (sync Playwright cannot run on the
    reactor's thread)."""
    from monitor.db import make_engine, make_session_factory
    from monitor.runs import finish_run

    taken = 0
    if end.settings is not None:
        from monitor.screenshots import capture_run_screenshots

        try:
            taken = capture_run_screenshots(end.settings, end.run_id)
        except Exception as exc:  # noqa: BLE001 - missing screenshots must not fail a finished crawl
            log.error("screenshots failed: %s", exc)
        if taken:
            log.info("took %d screenshots", taken)
    own = engine is None
    bind = make_engine(db_url, busy_timeout=busy_timeout) if engine is None else engine
    try:
        with make_session_factory(bind).begin() as session:
            finish_run(session, end.run_id, end.status, detail=end.detail)
    finally:
        if own:
            bind.dispose()
    return taken


# --- inside a worker process ------------------------------------------------------------------------------


#: What each page worker loads while it waits for its crawl (``pipelines.pageworker``).
PRELOAD = "pipelines.chain:preload"


def preload() -> None:
    """What a page worker does while the crawl process is still starting: import the chain's modules and
    build the tables every page needs (extraction rules, the statement model, the disease vocabulary, the
    HTML parser, the ORM mappers)."""
    from sqlalchemy.dialects import sqlite  # noqa: F401 - the default database's dialect
    from sqlalchemy.orm import configure_mappers

    from monitor.extract.model import load_model
    from monitor.extract.rules import compiled
    from monitor.extract.vocabulary import vocabulary
    from monitor.normalize import _attribute_patterns, _html_parser
    from monitor.warc import record_codec
    from pipelines import archive, extract, normalize, store  # noqa: F401

    compiled()
    load_model()
    vocabulary()
    record_codec()
    _attribute_patterns()
    _html_parser()
    configure_mappers()



def serve_pages(config: ChainConfig, receive: Callable[..., Any], answer: Callable[[bool, Any], None]) -> None:
    """A page worker (``pipelines.pagepool``): process every item received until end-of-file
    (``receive`` as made by ``pipelines.pageworker.serve``).

    Output goes to the crawl's log (never to the progress pipe on stdout). A page that fails is answered
    with the error (as text: not every database exception survives pickling) and logged with its traceback.
    """
    if config.log_file:
        log_fd = os.open(config.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
    else:  # stdout carries the crawl's progress lines: keep a worker off it
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"%(asctime)s [worker {os.getpid()}] %(levelname)s %(name)s: %(message)s")
    chain = PageChain(config, worker=f"w{os.getpid()}")
    chain.open()
    # a page makes tens of thousands of short-lived objects and almost no reference cycles: collect the
    # youngest generation every 50,000 allocations rather than every 700 (5-10% of a worker's time), and
    # leave what start-up loaded (modules, compiled rules) out of every collection
    gc.set_threshold(50_000, 20, 20)
    gc.freeze()
    # Pages through their CPU work (or their failures), oldest first, waiting for their transaction: when
    # the other worker holds the write lock and a next page has arrived, that page is worked on instead of
    # waiting (the crawl process answers a page's futures in the order it sent the pages).
    from pipelines.pageworker import NOT_READY

    waiting: collections.deque[Prepared | PageFailed] = collections.deque()

    def settle(wait: bool) -> bool:
        """Answer the oldest waiting page; False (nothing done) when ``wait`` is False and the lock busy."""
        entry = waiting[0]
        if isinstance(entry, PageFailed):
            waiting.popleft()
            answer(False, entry)
            return True
        try:
            stored = chain.finish(entry, wait=wait)
        except Exception as exc:  # noqa: BLE001 - one page's failure is that page's, not the crawl's
            waiting.popleft()
            log.exception("page %s not stored", entry.item.url)
            answer(False, PageFailed(f"{type(exc).__name__}: {exc}"))
            return True
        if stored is None:
            return False
        waiting.popleft()
        answer(True, stored)
        return True

    try:
        while True:
            while waiting and settle(wait=False):
                pass
            item = receive(wait=not waiting)
            if item is NOT_READY:  # nothing else to do: wait for the lock
                settle(wait=True)
                continue
            if item is None or isinstance(item, RunEnd):
                while waiting:
                    settle(wait=True)
            if item is None:
                break
            if isinstance(item, RunEnd):
                try:
                    answer(True, close_run(item, config.db_url, chain.store.engine))
                except Exception as exc:  # noqa: BLE001 - the crawl process closes the run instead
                    log.exception("could not close run %d", item.run_id)
                    answer(False, PageFailed(f"{type(exc).__name__}: {exc}"))
                continue
            try:
                waiting.append(chain.prepare(item))
            except Exception as exc:  # noqa: BLE001 - one page's failure is that page's, not the crawl's
                log.exception("page %s not stored", getattr(item, "url", "?"))
                waiting.append(PageFailed(f"{type(exc).__name__}: {exc}"))
    finally:
        chain.close()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        log.info("page worker done: %d pages, %.2f s CPU", chain.pages, usage.ru_utime + usage.ru_stime)


class PageFailed(RuntimeError):
    """A page could not be archived, analysed or stored (the worker's log has the traceback)."""
