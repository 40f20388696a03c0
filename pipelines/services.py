"""Where a crawl's page work runs off the reactor: one seam, shared by every site the process crawls.

Scrapy's reactor is one thread; the pipelines leave it only what is cheap (a body's hash, its links).
Two standard-library executors take the rest:

- ``analyse``: the CPU work on a page: parsing it into blocks (every page whose body changed) and
  extraction (the statement model, ~10-25 ms a page, only for pages whose text changed), in a
  ``concurrent.futures.ProcessPoolExecutor`` of ``Settings.crawl_workers`` processes (spawned, so they
  inherit neither the reactor nor its threads; each loads the model once, ~0.3 s), started when a site's
  first crawl begins or by the first page that needs it: a re-crawl answered by 304s or byte-identical
  bodies starts none. With ``crawl_workers=0`` it runs in the calling thread.
- ``io``: everything that waits on a disk or the database (WARC records, one transaction per page, the
  run's close) in ONE thread with its own database connection, so a crawl of many sites has one writer:
  SQLite's single-writer rule is met without locks between processes of one crawl, and pages of one site are
  stored in the order they were fetched.

``PageServices.from_crawler(crawler)`` gives the process's one instance, made by the first site's pipelines
(``from_crawler``) and closed when the crawl process's reactor stops (crawler/process.py).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from monitor.config import Settings

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)
T = TypeVar("T")


def _warm_up(log_file: str | None) -> None:
    """A pool process's start: it ends when the crawl process does, however that ends (SIGKILL included:
    the pool's own queues would keep it waiting forever); off the crawl's progress pipe (stdout, and stderr,
    which the parent reads as one), its output to the crawl's log; then load what every page's extraction
    needs (the model, the vocabulary, the compiled rules) before the first page arrives."""
    import os
    import threading

    parent = multiprocessing.parent_process()
    if parent is not None:
        def orphaned() -> None:
            parent.join()  # returns when the crawl process is gone (its end of the start-up pipe closed)
            os._exit(1)

        threading.Thread(target=orphaned, name="die-with-crawl", daemon=True).start()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    target = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if log_file else devnull
    os.dup2(target, 2)
    import monitor.normalize  # noqa: F401 - lxml and the page walk
    from monitor.extract.model import load_model
    from monitor.extract.rules import compiled
    from monitor.extract.vocabulary import vocabulary

    compiled()
    load_model()
    vocabulary()


class PageServices:
    """The crawl process's analysis pool, storage thread and database engine."""

    _current: ClassVar[PageServices | None] = None

    def __init__(self, settings: Settings, log_file: str | None = None) -> None:
        self.settings = settings
        self.log_file = log_file  # where the pool processes' output goes (the crawl's log)
        self.pool: ProcessPoolExecutor | None = None  # started by the first page that needs extraction
        self.io: Executor = ThreadPoolExecutor(1, thread_name_prefix="claimwatch-io")
        self._engine: Engine | None = None
        self._connection: Connection | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(self.settings.crawl_workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_warm_up, initargs=(self.log_file,))
        for _ in range(self.settings.crawl_workers):  # start them all now, each loading the model
            pool.submit(int)
        return pool

    @classmethod
    def current(cls, settings: Settings, log_file: str | None = None) -> PageServices:
        """The process's services (made by the first site's pipelines; ended when the process exits)."""
        if cls._current is None:
            import atexit

            cls._current = cls(settings, log_file)
            atexit.register(cls.shutdown)
        return cls._current

    @classmethod
    def from_crawler(cls, crawler: Any) -> PageServices:
        """The process's services for a site's crawler (its pipelines' ``from_crawler``)."""
        return cls.current(crawler.settings["CLAIMWATCH_SETTINGS"], crawler.settings.get("LOG_FILE"))

    @classmethod
    def shutdown(cls) -> None:
        services, cls._current = cls._current, None
        if services is not None:
            services.close()

    def warm(self) -> None:
        """Start the analysis pool now (a site's first crawl: every page will need extraction, and the
        pool's start-up then overlaps the site's robots.txt and first downloads)."""
        if self.settings.crawl_workers > 0 and self.pool is None:
            self.pool = self._new_pool()

    async def analyse(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in the analysis pool (a module-level function: it is sent by name)."""
        if self.settings.crawl_workers <= 0:
            return function(*args)
        if self.pool is None:
            # not before: a re-crawl of unchanged pages never starts it
            self.warm()
        pool = self.pool
        assert pool is not None
        try:
            return await asyncio.wrap_future(pool.submit(function, *args))
        except BrokenProcessPool:
            # a pool process died (killed, out of memory): this page fails, the next ones get a new pool
            if self.pool is pool:
                log.error("an analysis process died: starting a new pool")
                pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self._new_pool()
            raise

    async def in_io(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on the storage thread."""
        return await asyncio.wrap_future(self.io.submit(function, *args))

    # --- on the storage thread only -------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from monitor.db import make_engine

            self._engine = make_engine(self.settings.db_url, busy_timeout=self.settings.db_busy_timeout)
        return self._engine

    def connection(self) -> Connection:
        """The storage thread's connection, held for the crawl (made again when the server dropped it)."""
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            if self._connection is not None:
                self._connection.close()
            self._connection = self.engine.connect()
        return self._connection

    def _close_database(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def close(self) -> None:
        try:
            self.io.submit(self._close_database).result()
        except Exception as exc:  # noqa: BLE001 - closing must go on
            log.warning("closing the database: %s", exc)
        self.io.shutdown(wait=True)
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
