"""`crawl now` from the web app: through the same executor seam as the daemon (``monitor.executor``),
refused while a crawl of the site runs anywhere (its lease, ``monitor.leases``) or is queued here.

Each web app process has one launcher, made on the first request that needs it, with the executor
``CLAIMWATCH_EXECUTOR`` names (``monitor.executor.make_executor``): crawls in a crawl process of this web
worker (``local``), or tasks for `claimwatch worker` processes (``celery``). It is shut down (crawls given
time to finish) when the worker exits.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.crawl import RunSummary
from monitor.executor import CrawlExecutor, make_executor
from monitor.leases import holder_is_dead_here
from monitor.models import Site, SiteLease, utcnow

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 30.0  # seconds running crawls may finish when the web process stops


class CrawlRefused(RuntimeError):
    """Why a crawl was not started, in one line for the analyst."""


def running_crawl(session: Session, site_id: int) -> str | None:
    """A line naming the crawl of the site that holds its lease now, or None."""
    lease = session.scalar(select(SiteLease).where(SiteLease.site_id == site_id))
    if lease is None or lease.expires_at < utcnow() or holder_is_dead_here(lease.holder):
        return None
    return f"a crawl of this site is running (since {lease.acquired_at:%Y-%m-%d %H:%M:%S} UTC, by {lease.holder})"


class CrawlLauncher:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings,
                 executor: CrawlExecutor | None = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self._executor = executor
        self._lock = threading.Lock()
        self._pending: dict[str, Future[RunSummary]] = {}

    @property
    def executor(self) -> CrawlExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = make_executor(self.sessions, self.settings)  # the daemon's: local or Celery
            return self._executor

    def queued(self, site_name: str) -> bool:
        with self._lock:
            future = self._pending.get(site_name)
            return future is not None and not future.done()

    def start(self, site_name: str) -> Future[RunSummary]:
        """Queue a crawl of the site, or raise ``CrawlRefused`` saying why not."""
        with self.sessions() as session:
            site = session.scalar(select(Site).where(Site.name == site_name))
            if site is None:
                raise CrawlRefused(f"unknown site: {site_name}")
            if not site.enabled:
                raise CrawlRefused(f"site {site_name} is disabled: enable it first")
            busy = running_crawl(session, site.id)
        if busy is not None:
            raise CrawlRefused(busy)
        executor = self.executor
        with self._lock:
            previous = self._pending.get(site_name)
            if previous is not None and not previous.done():
                raise CrawlRefused("a crawl of this site is already queued")
            future = executor.submit(site_name)
            self._pending[site_name] = future
        future.add_done_callback(lambda done: self._finished(site_name, done))
        return future

    def _finished(self, site_name: str, future: Future[RunSummary]) -> None:
        if future.cancelled():
            log.info("site %s: web crawl cancelled", site_name)
            return
        error = future.exception()
        if error is not None:  # LeaseBusy: another process started a crawl between our check and the lease
            log.warning("site %s: web crawl not run: %s", site_name, error)
        else:
            log.info("%s", future.result().line())

    def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(timeout)
